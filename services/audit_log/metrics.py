"""Prometheus metrics of the audit log (on /metrics with every other metric of the process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ENTRIES = Counter("roumu_audit_entries_total", "Entries appended to the audit log's chains", ["category"])
ENTRIES_PER_SECOND = Gauge("roumu_audit_entries_per_second",
                           "Entries appended per second over the last metrics interval")
CONSUMER_LAG = Gauge("roumu_audit_consumer_lag",
                     "Events of the stream the audit log has not applied yet (pending plus unacknowledged)")
VERIFICATION_OK = Gauge("roumu_audit_verification_ok",
                        "1 when the last verification of every chain passed, 0 when one failed, -1 before the first")
VERIFICATION_FAILED_CHAINS = Gauge("roumu_audit_verification_failed_chains",
                                   "Chains that failed the last verification of every chain")
VERIFICATION_LAST_RUN = Gauge("roumu_audit_verification_last_run_timestamp_seconds",
                              "When every chain was last verified (Unix time)")
CHECKPOINTS = Counter("roumu_audit_checkpoints_total", "Signed checkpoints", ["kind"])
REFUSED = Counter("roumu_audit_chain_refused_total",
                  "Checkpoints or purges refused because the chain segment they would sign did not verify",
                  ["operation"])
PURGED = Counter("roumu_audit_entries_purged_total", "Entries deleted by retention", ["category"])

VERIFICATION_OK.set(-1)
