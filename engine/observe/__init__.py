"""What the engine tells about itself, read by the app, the API and the benchmarks.

`snapshot` (the cheap per-frame state) and `monitor` (the panels' heavier figures) are
built from `views` (the JSON shapes); `error_log` keeps each distinct failure once;
`memory` reads the player's RSS and sets the memory-pressure level.
"""
