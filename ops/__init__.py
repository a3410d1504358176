"""Operator tooling: migrate, seed, run the stack locally. May import services (it is not one)."""
