"""Accounts & permissions: tenants (contracts), users, roles, menu and 事業所 grants."""
