"""Dialect-specific statements and row <-> dataclass helpers shared by the repositories."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from csms.storage.sql.lean_statements import Prepared, run

Insert = sqlite.Insert | postgresql.Insert


def insert(session: AsyncSession, table: Table) -> Insert:
    """An ``INSERT`` that knows ``ON CONFLICT`` on the session's backend."""
    return dialect_insert(session.get_bind().dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Insert:
    """An ``INSERT`` that knows ``ON CONFLICT`` on the backend called ``dialect``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def upsert(
    session: AsyncSession, table: Table, values: Mapping[str, Any], keys: Iterable[str]
) -> None:
    """Insert ``values``, or overwrite the row that has the same primary ``keys``."""
    dialect = session.get_bind().dialect.name
    await run(session, _upsert_statement(dialect, table, tuple(values), tuple(keys)), values)


@cache
def _upsert_statement(
    dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Prepared:
    """Built once per shape: ``excluded`` and the SET clause cost more than the statement."""
    stmt = dialect_insert(dialect, table)
    upsert = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in columns if name not in keys},
    )
    return Prepared(upsert, columns)


def values_of(obj: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A dataclass as column values: same names, enums replaced by their string values."""
    skip = set(exclude)
    return {
        field.name: _plain(getattr(obj, field.name))
        for field in dataclasses.fields(obj)
        if field.name not in skip
    }


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
