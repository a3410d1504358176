"""Roumu's services: each its own FastAPI app, process and database. None imports another."""
