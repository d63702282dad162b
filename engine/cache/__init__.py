"""The multi-tier buffer: tiers of encoded audio, the placement plan, the buffer itself."""
