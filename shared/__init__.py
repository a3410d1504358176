"""The small common library of Roumu: settings, database, events (outbox, relay, inbox),
problem+json errors, JSON logs, tokens. Imports no service (checked by import-linter)."""
