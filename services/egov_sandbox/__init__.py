"""e-Gov sandbox: a local server that speaks the e-Gov 電子申請API v2 contract, for tests and local runs.

It stands in for an outside system: never routed by the gateway, never on our NATS subjects."""
