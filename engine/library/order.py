"""The library's order, and what makes an album or a folder of it.

A folder opened is played in the order its tags give (album artist, album, disc, track),
so an album plays as it was sequenced; loose untagged files follow by folder and name.
Files named one by one, or listed in a playlist, keep the order they were given in.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.library.tracks import Track


def sorted_by_tags(tracks: Sequence[Track]) -> list[Track]:
    """`tracks` in the library's order: tagged music by album artist, album, disc and track
    number; untagged files after it, by folder and name."""
    return sorted(tracks, key=_sort_key)


def _sort_key(track: Track) -> tuple[object, ...]:
    tags = track.tags
    artist = tags.album_artist or track.artist
    untagged = not (artist or tags.album)
    return (
        untagged,
        artist.casefold(),
        tags.album.casefold(),
        tags.disc_number or 0,
        tags.track_number or 0,
        str(track.path.parent) if untagged else "",
        track.title.casefold(),
        str(track.path),
    )


def album_of(track: Track) -> tuple[str, ...]:
    """What a track's album is known by: its album artist (or artist) and album tags, or its
    folder when it has no album tag (an untagged album is usually a folder)."""
    tags = track.tags
    if not tags.album:
        return ("folder", str(track.path.parent))
    return ("album", (tags.album_artist or track.artist).casefold(), tags.album.casefold())


def folder_of(track: Track) -> tuple[str, ...]:
    return ("folder", str(track.path.parent))
