"""The ``db_url`` fixture itself: both databases answer, each test gets its own."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text
from sqlalchemy.engine import Connection, make_url

#: ``db_url`` of the previous test of the separate-schema pair, by backend.
_seen: dict[str, str] = {}
#: Connections left open inside a transaction, as a careless test would.
_leaked: list[Connection] = []


def _table(metadata: MetaData) -> Table:
    return Table("patient", metadata,
                 Column("id", Integer, primary_key=True),
                 Column("name", String(64), nullable=False))


def test_create_table_and_round_trip_a_row(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        metadata = MetaData()
        patient = _table(metadata)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(patient.insert(), [{"id": 1, "name": "Müller^Jürgen"},
                                            {"id": 2, "name": "山田^太郎"}])
        with engine.connect() as conn:
            rows = conn.execute(select(patient.c.id, patient.c.name).order_by(patient.c.id))
            assert rows.all() == [(1, "Müller^Jürgen"), (2, "山田^太郎")]
    finally:
        engine.dispose()


def test_postgresql_url_uses_its_own_schema(db_url: str) -> None:
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        assert url.database is not None and url.database.endswith("index.db")
        return
    options = url.query["options"]
    assert isinstance(options, str) and options.startswith("-csearch_path=t_")
    schema = options.removeprefix("-csearch_path=")
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_schema()")).scalar() == schema
    finally:
        engine.dispose()


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_an_empty_database(db_url: str, turn: int) -> None:
    """Two tests create the same table: the second must not see the first's."""
    backend = make_url(db_url).get_backend_name()
    if turn == 2:
        assert _seen.get(backend) not in (None, db_url)
    _seen[backend] = db_url
    engine = create_engine(db_url)
    try:
        metadata = MetaData()
        patient = _table(metadata)
        metadata.create_all(engine)  # would fail on a table left over from turn 1
        with engine.begin() as conn:
            assert conn.execute(select(patient.c.id)).all() == []
            conn.execute(patient.insert(), {"id": turn, "name": f"TURN^{turn}"})
        if turn == 1:
            # Left open inside a transaction (holding a lock on the table):
            # the fixture must still drop the schema.
            leaked = engine.connect()
            leaked.execute(select(patient.c.id)).all()
            _leaked.append(leaked)
    finally:
        engine.dispose()


def test_schema_is_dropped_afterwards(pg_base_url: str) -> None:
    """The schemas of the tests above are gone (they ran first in this module)."""
    seen = _seen.get("postgresql")
    if seen is None:
        pytest.skip("the postgresql cases above did not run")
    schema = str(make_url(seen).query["options"]).removeprefix("-csearch_path=")
    engine = create_engine(pg_base_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                                 {"s": schema}).all()
        assert found == []
    finally:
        engine.dispose()
