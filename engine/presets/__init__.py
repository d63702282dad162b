"""Mastering presets as data: the model, the TOML format, and the book of those in use."""
