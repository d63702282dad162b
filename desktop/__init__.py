"""The player on the desktop: MPRIS on the D-Bus session bus (media keys, widgets,
`playerctl`). Nothing in `engine/` imports this package."""
