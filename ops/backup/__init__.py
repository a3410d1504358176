"""Backups of every service database, the file store and the key material, encrypted, verified,
copied to a second target and rotated; the monthly restore drill. See docs/operations.md."""
