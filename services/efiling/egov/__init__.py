"""The e-Gov 電子申請API v2 client of efiling: OAuth (oauth.py), calls with retry and backoff
(client.py), packages (package.py). The target — the sandbox or e-Gov's hosts — is configuration."""
