"""Pure rules of the accounts service (no I/O): business days, number formats, notice lead times."""
