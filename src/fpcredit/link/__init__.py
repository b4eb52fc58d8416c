"""Person index: linking every department's records to one person (R4)."""
