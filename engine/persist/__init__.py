"""What outlives a session: `state` (settings and the predictor's model, written safely),
`trace` (the interaction trace format) and `trace_recorder` (records one while playing)."""
