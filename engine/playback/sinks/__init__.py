"""Where the rings are played: the audio process on a PortAudio device, or a null clock.

`output` chooses and recovers a sink; `audio_process` is the engine's side of the audio
process; `audio_child` and `ring_consumer` are all that process imports besides
sounddevice (this package's modules import nothing heavy at import time).
"""
