"""Pure rules of the audit log: the hash chain and its verification, signed checkpoints (C2SP
signed notes) and retention by category. No database, no clock of their own."""
