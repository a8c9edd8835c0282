"""The journey suite on PostgreSQL: with TEST_DATABASE_URL=postgresql://… (e.g. from scripts/postgres.sh) every test
gets a database of its own on that server, created before and dropped after it."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import asyncpg

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip() or None


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


async def create_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
