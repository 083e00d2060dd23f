"""Storage adapters: SQLAlchemy 2 async (SQLite or PostgreSQL) and Redis."""
