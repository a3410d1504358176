"""Pure rules of the auth service: no I/O, no clock of their own (time is an argument)."""
