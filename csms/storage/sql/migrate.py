"""Bring a database to the latest schema with Alembic, from code (no ini file, any cwd)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from csms.storage.sql.engine import async_url

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's ``context`` is process-global: one migration at a time per process.
_alembic_lock = threading.Lock()


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for ``url`` using the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    rendered = async_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def migrate_sync(url: str) -> None:
    """Run ``alembic upgrade head`` on ``url`` (blocking; safe inside a running event loop)."""
    with _alembic_lock:
        command.upgrade(alembic_config(url), "head")


async def migrate(url: str) -> None:
    """Run ``alembic upgrade head`` on ``url`` in a worker thread."""
    await asyncio.to_thread(migrate_sync, url)
