"""Pure rules of the files service: no I/O, tested directly."""
