"""Storage adapters: in-memory (unit tests) and SQL (SQLite default, PostgreSQL)."""
