"""Alembic migrations; one schema for SQLite and PostgreSQL."""
