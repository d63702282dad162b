"""Panels of the Tierplay app, one widget per module."""
