"""The tamper-evident trail: RFC 9162 log, entries, checkpoints, witnesses, digests, verify."""
