"""Durable state: sqlmodel tables, the engine, alembic migrations."""
