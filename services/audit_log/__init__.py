"""Audit log: every event of every service, per tenant; the log screen API for administrators."""
