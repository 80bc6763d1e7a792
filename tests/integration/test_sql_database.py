"""SqlDatabase: group commit, isolation of failing writes, write_soon, recovery from DB errors."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from csms.domain.model import IdToken
from csms.domain.ports import UnitOfWork
from csms.storage.sql import SqlDatabase, create_engine, migrate


async def test_concurrent_writes_are_group_committed(database: SqlDatabase) -> None:
    """Fifty concurrent writes all commit, several of them in a shared transaction."""
    units: list[UnitOfWork] = []

    async def add(uow: UnitOfWork, n: int) -> int:
        units.append(uow)
        await uow.tokens.add(IdToken(f"T{n:02}"))
        return n

    results = await asyncio.gather(
        *[database.write(lambda uow, n=n: add(uow, n)) for n in range(50)]
    )
    assert results == list(range(50))
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert [t.id_token for t in tokens] == [f"T{n:02}" for n in range(50)]
    assert len({id(uow) for uow in units}) < 50


async def test_one_failing_write_fails_only_its_caller(database: SqlDatabase) -> None:
    """In a batch, a failing work item fails its caller; the others commit."""

    async def add(uow: UnitOfWork, n: int) -> int:
        await uow.tokens.add(IdToken(f"T{n}"))
        if n == 3:
            raise ValueError("boom")
        return n

    results = await asyncio.gather(
        *[database.write(lambda uow, n=n: add(uow, n)) for n in range(10)],
        return_exceptions=True,
    )
    assert isinstance(results[3], ValueError)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert sorted(t.id_token for t in tokens) == [f"T{n}" for n in range(10) if n != 3]


async def test_write_soon_is_committed_in_order(database: SqlDatabase) -> None:
    """A write_soon lands before a later write returns; its failure is only logged."""

    async def fail(uow: UnitOfWork) -> None:
        raise RuntimeError("lost")

    database.write_soon(fail)
    database.write_soon(lambda uow: uow.tokens.add(IdToken("soon")))
    await database.write(lambda uow: uow.tokens.add(IdToken("later")))
    tokens = await database.read(lambda uow: uow.tokens.list())
    assert [t.id_token for t in tokens] == ["later", "soon"]


async def test_writer_survives_database_errors(database_url: str) -> None:
    """A write failing in the database fails its caller; the writer keeps serving."""
    db = SqlDatabase(create_engine(database_url))
    try:
        with pytest.raises(DBAPIError):
            await db.write(lambda uow: uow.tokens.add(IdToken("A")))
        await migrate(database_url)
        await db.write(lambda uow: uow.tokens.add(IdToken("A")))
        assert await db.read(lambda uow: uow.tokens.get("A")) == IdToken("A")
    finally:
        await db.close()
