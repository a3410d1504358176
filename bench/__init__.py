"""Benchmarks that print figures: each measures against a baseline taken in the same run."""
