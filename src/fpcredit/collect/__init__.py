"""Collecting department feeds: adapters, mapping files, validation, quarantine, ingestion."""
