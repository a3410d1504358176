"""Pure 雇用保険 rules (no I/O): each function names its rule and source (shared/DOMAIN.md A1–A4, C10).

Thresholds, form ids and deadline rules are dated data, so next year's change is a table row."""
