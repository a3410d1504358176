"""雇用保険 (employment insurance): insured persons, eligibility, procedures and their deadlines."""
