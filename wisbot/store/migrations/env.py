"""Alembic environment: wisbot passes the connection in, or the URL in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import wisbot.store.alerts_jira_tables  # alerts and the JIRA mirror (0015)
import wisbot.store.audit_tables  # audits, continuity, drills (0022)
import wisbot.store.change_tables  # changes and the CAB (0021)
import wisbot.store.exchange_tables  # near-real-time exchange tables (0002x)
import wisbot.store.kedb_tables  # known errors (0020)
import wisbot.store.language_tables  # person_language (0018)
import wisbot.store.operator_tables  # widening requests (0011)
import wisbot.store.ops_tables  # holds, leader, job runs (0005, 0007)
import wisbot.store.tables  # registers the tables on the metadata
import wisbot.store.watch_tables  # noqa: F401  (GISC Watch tables, 0002w)
from wisbot.store import (
    web_tables,  # noqa: F401  (web sessions, access log, 0019)
    wmem_tables,  # noqa: F401  (WIS2 monitoring events, 0014)
)

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
