"""What a file's tags say about its music: title, artist, album, numbers and ReplayGain.

Read with mediafile (beets' tag layer over mutagen), which maps ID3, Vorbis comments, MP4
atoms and APE tags to the same fields, ReplayGain's several spellings included. Tags are
the listener's data, often wrong or missing: nothing here raises, and a file whose tags
cannot be read is simply untagged (its file name stands in for the title).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediafile import MediaFile

MAX_TAG_CHARS = 200
"""Longer values are cut: a tag is shown on one line, and a broken file can hold megabytes."""
MULTI_VALUE_KEYS = {
    "title": ("TITLE", "TIT2", "\xa9nam"),
    "artist": ("ARTIST", "TPE1", "\xa9ART"),
    "album": ("ALBUM", "TALB", "\xa9alb"),
    "albumartist": ("ALBUMARTIST", "TPE2", "aART"),
}
"""Where each text field's values are in Vorbis comments (FLAC, Ogg, Opus), ID3 and MP4:
mediafile gives a field's first value only, and two artists are two values there."""
VALUES_JOINED_BY = " / "
"""Between the values of one field: reads as a list, unlike a comma inside a title."""


@dataclass(frozen=True)
class Tags:
    """A file's tags; empty strings and None where the file has none."""

    title: str = ""
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    track_number: int | None = None
    disc_number: int | None = None
    replaygain_track_db: float | None = None
    replaygain_album_db: float | None = None
    replaygain_track_peak: float | None = None
    replaygain_album_peak: float | None = None


def read_tags(path: Path) -> Tags:
    """The tags of `path`, or empty `Tags` when it has none or they cannot be read."""
    try:
        found = MediaFile(str(path))
    except Exception:  # noqa: BLE001 - mediafile raises many kinds; an unreadable tag is no tag
        return Tags()
    return Tags(
        title=_every_value(found, "title"),
        artist=_every_value(found, "artist"),
        album=_every_value(found, "album"),
        album_artist=_every_value(found, "albumartist"),
        track_number=_number(found.track),
        disc_number=_number(found.disc),
        replaygain_track_db=_finite(found.rg_track_gain),
        replaygain_album_db=_finite(found.rg_album_gain),
        replaygain_track_peak=_finite(found.rg_track_peak),
        replaygain_album_peak=_finite(found.rg_album_peak),
    )


def _every_value(found: MediaFile, field: str) -> str:
    """The field's values joined (`VALUES_JOINED_BY`), or its one value."""
    first = _text(getattr(found, field))
    try:
        tags = found.mgfile.tags
        for key in MULTI_VALUE_KEYS[field] if tags is not None else ():
            found_values = tags.get(key)
            values = getattr(found_values, "text", found_values)  # an ID3 frame's are .text
            if isinstance(values, list) and len(values) > 1:
                texts = dict.fromkeys(text for text in map(_text, values) if text)
                return VALUES_JOINED_BY.join(texts)[:MAX_TAG_CHARS] or first
    except Exception:  # noqa: BLE001 - a tag layout we do not know: its first value stands
        pass
    return first


def _text(value: Any) -> str:
    """One line of printable text: tags may hold newlines, NULs or terminal escapes."""
    if not isinstance(value, str):
        return ""
    printable = "".join(char for char in value if char.isprintable() or char.isspace())
    return " ".join(printable.split())[:MAX_TAG_CHARS]


def _number(value: Any) -> int | None:
    """Track and disc numbers; 0 means unset in mediafile."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return value
    return None


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
