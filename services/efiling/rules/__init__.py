"""Pure rules of efiling: no I/O, no clock of their own; tested at their edges."""
