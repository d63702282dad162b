"""Subcommands of `tierplay` other than the player itself."""
