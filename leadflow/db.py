"""The app database: one engine per URL, sessions, and schema creation for the embedded mode.

Every engine hides bound parameters (``hide_parameters=True``): an error or a log line about a
statement must not carry the addresses and names it was writing. On SQLite, deleted content is
overwritten (``secure_delete``) and :func:`checkpoint_wal` folds the write-ahead log back into
the database file, so erased personal data does not linger in free pages or the ``-wal`` file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from leadflow import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from leadflow.config import get_settings

__all__ = ["checkpoint_wal", "create_schema", "get_engine", "reset_engine", "session_scope"]

log = logging.getLogger(__name__)
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the API read while the worker writes; the busy timeout waits out short locks
    # instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Erased personal data is zeroed on disk, not left in free space of its pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    url = url or get_settings().resolved_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1] if "///" in url else ""
                pool: dict[str, int] = {}
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    # API requests, worker activities and threads share one file database.
                    pool = {"pool_size": 20, "max_overflow": 40, "pool_timeout": 60}
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30},
                    hide_parameters=True, **pool
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                       hide_parameters=True)
            _engines[url] = engine
        return engine


def reset_engine() -> None:
    """Dispose every engine (tests switch databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# SQLite has one writer at a time, and a writer that finds the file locked sleeps in growing
# steps (up to 100 ms) before it tries again. Threads of one process queue on this lock
# instead, which keeps transactions back to back. Re-entrant: a transaction may read through
# a nested one (cached flow versions).
_sqlite_writer = threading.RLock()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    engine = get_engine(url)
    serial = engine.dialect.name == "sqlite"
    if serial:
        _sqlite_writer.acquire()
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if serial:
            _sqlite_writer.release()


def checkpoint_wal(url: str | None = None) -> None:
    """Copy SQLite's write-ahead log into the database file and empty it (no-op elsewhere).

    Run after a transaction that removed personal data: until a checkpoint, the old pages
    (with the data) stay in the ``-wal`` file beside the database.
    """
    engine = get_engine(url)
    if engine.dialect.name != "sqlite":
        return
    for _attempt in range(10):
        with _sqlite_writer, engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        if not busy:
            return
        time.sleep(0.1)  # a reader of another connection holds old pages; it ends soon
    log.warning("the write-ahead log could not be emptied now; SQLite's next automatic "
                "checkpoint will fold it in")


def create_schema(url: str | None = None) -> None:
    """Create missing tables and declare the shipped capture forms: the embedded dev mode and
    tests only (production uses Alembic, whose migrations do the same)."""
    from leadflow.journeys.forms import declare_shipped_forms

    SQLModel.metadata.create_all(get_engine(url))
    with session_scope(url) as session:
        declare_shipped_forms(session)
