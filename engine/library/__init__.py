"""Tracks from files: what the engine knows about the music, never a whole decoded track.

In order: `scan` (folders to playable tracks, each bad file with its one-line reason) →
`tracks` (a file's header, checks and reasons) → `source` (windows decoded on demand,
resampled exactly) → `track_store` (one source per track, the shared block cache) →
`analysis_pass` (one streaming pass per track in the background) with `analysis` (features
and band balance) → `chunk_features` (the features of the music at each chunk).
"""
