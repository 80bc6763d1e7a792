"""SQL storage: SQLAlchemy 2 async over SQLite (default) or PostgreSQL.

``create_engine`` builds the engine, ``migrate`` brings the schema to the latest Alembic
revision, and ``SqlDatabase`` implements the domain's ``Database`` port with group commit.
Rows never leave this package: repositories return domain objects.
"""

from csms.storage.sql.engine import async_url, create_engine
from csms.storage.sql.migrate import migrate, migrate_sync
from csms.storage.sql.repositories import ChargerRepository, SessionRepository, TokenRepository
from csms.storage.sql.unit_of_work import SqlDatabase, SqlUnitOfWork

__all__ = [
    "ChargerRepository",
    "SessionRepository",
    "SqlDatabase",
    "SqlUnitOfWork",
    "TokenRepository",
    "async_url",
    "create_engine",
    "migrate",
    "migrate_sync",
]
