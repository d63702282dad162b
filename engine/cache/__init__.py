"""The multi-tier buffer: where rendered chunks wait to be played.

In order: `keys` (what a chunk is) → `worker` (the render pool that executes a placement
plan) → `buffer` (stores each chunk in the tier the plan chose, demotes, looks up) → `tier`
(one memory-bounded tier) with `codecs` (float32 in L1, int16 in L2, FLAC in L3).
"""
