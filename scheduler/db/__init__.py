"""The queue database: engines, tables and migrations."""
