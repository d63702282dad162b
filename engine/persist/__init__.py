"""What outlives a session: `state` (settings and the predictor's model, written safely),
`trace` (the interaction trace format), and `recording` (the engine's `--record`) over
`trace_recorder` (writes one while playing)."""
