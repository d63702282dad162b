"""What the listener will do next, and what the buffer should therefore hold.

In order: `interaction` (raw keys filtered into settled switches and seeks) → `experts`
(each a guess of the next preset) → `predict` (the experts weighed into one distribution)
→ `planner` (playback state and prediction into a plan's inputs) → `placement` (which
chunk goes in which tier, by expected value).
"""
