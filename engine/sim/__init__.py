"""Simulation rigs: never imported by the running engine (a test keeps it so).

`timeline` (media time for a replay) → `listeners` (synthetic listeners that write traces)
→ `replay` (a trace through the real engine). `tierplay simulate` and the benchmarks use
them.
"""
