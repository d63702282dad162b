"""From the buffer to the speaker.

In order: `feed` (the chunk of the requested preset, a stand-in on a miss, the crossfade on
a switch) → `player` (transport: play, pause, seek, track ends) → `rings` (two shared-memory
rings and the atomic handover between them, laid out by `ring_layout`) → `sinks/` (the
audio process and its device, or the null sink).
"""
