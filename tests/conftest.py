"""Shared fixtures: an in-process dicomqr server on a free port, test data."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dicomqr import FileArchive, Server, ServiceDispatcher, acceptor_policy
from dicomqr.transport.config import Limits, Timeouts

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DCMTK = Path("/usr/bin")


def dcmtk(tool: str) -> str:
    """The DCMTK binary by its Debian path (pynetdicom's scripts share the names)."""
    path = DCMTK / tool
    if not path.exists():
        pytest.skip(f"DCMTK {tool} not installed")
    return str(path)


def dcmtk_env() -> dict[str, str]:
    # DCMTK leaves Nagle on unless told: ~40 ms per message otherwise.
    return {**os.environ, "TCP_NODELAY": "1"}


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    d = tmp_path / "archive"
    d.mkdir()
    return d


@pytest.fixture
async def server(archive_dir: Path) -> AsyncIterator[Server]:
    """A dicomqr server (C-ECHO + C-STORE into ``archive_dir``) on 127.0.0.1."""
    archive = FileArchive(archive_dir)
    srv = Server(
        ae_title="DICOMQR",
        policy=acceptor_policy(),
        handler_factory=lambda conn: ServiceDispatcher(archive=archive),
        limits=Limits(),
        timeouts=Timeouts(artim=5, idle=30),
    )
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close(timeout=2)


def stored_files(archive_dir: Path) -> list[Path]:
    """The instances stored under ``archive_dir`` (not partial files, nor
    the standard color palettes an archive starts with)."""
    return sorted(p for p in archive_dir.rglob("*.dcm")
                  if ".incoming" not in p.parts and "palettes" not in p.parts)


@pytest.fixture(scope="session")
def pydicom_test_files() -> list[Path]:
    """pydicom's test files that are valid DICOM with a Part 10 header."""
    import pydicom.data

    from dicomqr.services.part10 import Part10Error, read_file_meta

    files = []
    # The files shipped in the package only (no downloads: no network here).
    for path in (Path(pydicom.data.__file__).parent / "test_files").rglob("*"):
        if not path.is_file():
            continue
        try:
            meta = read_file_meta(path.read_bytes()[:65536])
        except Part10Error:
            continue
        if meta.sop_class_uid == "1.2.840.10008.1.3.10":
            continue  # DICOMDIR: a media file, not an instance to store
        if meta.sop_class_uid and meta.sop_instance_uid:
            files.append(path)
    return sorted(files)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


# -- Databases for the archive index: SQLite and a real PostgreSQL server --------------
#
# ``db_url`` runs a test twice: on a fresh SQLite file and on a fresh schema
# of the PostgreSQL test database that scripts/install-test-deps.sh sets up
# (role dicomqr, password dicomqr, database dicomqr_test on 127.0.0.1:5432).
# DICOMQR_TEST_PG_URL points the tests at another server (a base SQLAlchemy
# URL; the role needs CREATE on the database); DICOMQR_TEST_NO_PG=1 skips the
# PostgreSQL cases. Otherwise a server that does not answer fails them: a
# missing PostgreSQL must not pass for a green run.

PG_DEFAULT_URL = "postgresql+psycopg://dicomqr:dicomqr@127.0.0.1:5432/dicomqr_test"


def pg_schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's search_path set to ``schema``
    (libpq ``options=-csearch_path=...``, added to options already there)."""
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    options = url.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    options = f"{options} -csearch_path={schema}".strip()
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _pg_error(url: str) -> str | None:
    """Why ``url`` cannot be used (one line), or None when ``SELECT 1`` works."""
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return None


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL test database's SQLAlchemy URL, checked once per session
    (a failure is cached by pytest: every PostgreSQL case fails with it)."""
    if os.environ.get("DICOMQR_TEST_NO_PG") == "1":
        pytest.skip("DICOMQR_TEST_NO_PG=1: PostgreSQL tests skipped")
    url = os.environ.get("DICOMQR_TEST_PG_URL") or PG_DEFAULT_URL
    error = _pg_error(url)
    if error is not None:
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except Exception:
            shown = repr(url)
        pytest.fail(
            f"PostgreSQL test database not reachable at {shown}: {error}\n"
            "Run `sh scripts/install-test-deps.sh` (as root or with sudo) to install and start "
            "it, or set DICOMQR_TEST_PG_URL to another server, or DICOMQR_TEST_NO_PG=1 to skip "
            "the PostgreSQL tests.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def pg_admin_engine(pg_base_url: str) -> Iterator[Engine]:
    """An engine on the test database for creating and dropping test schemas."""
    from sqlalchemy import create_engine

    engine = create_engine(pg_base_url, pool_size=1, connect_args={"connect_timeout": 5})
    yield engine
    engine.dispose()


def _drop_schema(engine: Engine, schema: str) -> None:
    """DROP SCHEMA ... CASCADE; a connection the test left open inside a
    transaction would hold locks on its tables and block that forever, so
    wait a little, then end the sessions that hold locks in the schema."""
    from sqlalchemy import exc, text

    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            return
        except exc.OperationalError:
            if attempt == 2:
                raise
            with engine.begin() as conn:
                conn.execute(text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                    " JOIN pg_class c ON c.oid = l.relation"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                ), {"schema": schema})


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An SQLAlchemy URL of an empty database: a new SQLite file, or a new
    schema ``t_<random>`` on the PostgreSQL test database (dropped afterwards)
    that every connection made from the URL uses as its search_path."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/index.db"
        return
    from sqlalchemy import text

    base: str = request.getfixturevalue("pg_base_url")
    engine: Engine = request.getfixturevalue("pg_admin_engine")
    schema = f"t_{secrets.token_hex(8)}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(base, schema)
    finally:
        _drop_schema(engine, schema)
