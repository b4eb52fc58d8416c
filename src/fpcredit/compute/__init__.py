"""Batch engines behind one small interface: DuckDB in process, Spark when a province needs it."""
