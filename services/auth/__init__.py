"""Identity: credentials, login, access tokens and their public keys (JWKS)."""
