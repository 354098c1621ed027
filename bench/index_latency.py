#!/usr/bin/env python3
"""C-FIND latency of ``dicomqr serve`` on an index of about a million instances.

The archive is generated straight into the index with ``dicomqr generate OUT --index-only``
(20,000 patients x 2-4 studies x 2-4 series x 3-10 instances, seed 1: about 1.17 M
instances, 60,000 studies; no files), once: a manifest next to it records the spec and the
counts, and a later run with the same spec and database reuses it.  SQLite by default
(``WORK/latency/<tag>/archive/index.sqlite``); ``--db URL`` puts it in PostgreSQL instead,
in a schema of its own (``--pg-schema``, created if missing, dropped and re-created when the
index has to be generated again).

``dicomqr serve`` is started on it (127.0.0.1, a free port), and each query below is run
as a Study Root C-FIND at STUDY level with the return keys StudyInstanceUID, StudyDate,
PatientID, PatientName, AccessionNumber, ModalitiesInStudy and NumberOfStudyRelatedInstances.
The values are picked from the index (deterministically) so that each query matches between
1 and about 50 studies; the report gives the match counts, checked against SQL counts of the
index and between the clients.

* ``patient-id``   PatientID, exact
* ``accession``    AccessionNumber, exact
* ``study-uid``    StudyInstanceUID, exact
* ``name-prefix``  PatientName prefix wildcard (``SURNAME^GIVEN*``)
* ``study-date``   StudyDate, one day
* ``name-year``    PatientName wildcard (``SURNAME^G*``) and a StudyDate range of a year
* ``birth-date``   PatientBirthDate, one day: a patient column without an index
* ``desc-time``    StudyDescription wildcard (``*WORD*``) and StudyTime, one second: study
                   columns without an index.  The generator sets no study-level attribute
                   that lacks a column (a key without a column is matched in Python over the
                   entities' kept attributes; one that no instance has matches every study,
                   as unknown values match, so it cannot be a few-match query here).
* ``empty``        PatientID of no patient: 0 matches, the floor of each client.

Clients, per query:

* dicomqr's SCU in this process (``dicomqr.services.qr_scu.find`` over one association
  kept open by ``dicomqr.transport.client.connect``): from the C-FIND-RQ to the final
  response, ``--reps`` repetitions (default 20; the queries interleaved, one round each,
  after 2 untimed warm-up rounds); median and p90 in ms.
* ``Search.find`` of the archive in this process on the same index (no network, no DIMSE:
  the SQL and the encoding of the identifiers), as many repetitions: where the time goes.
* DCMTK ``findscu`` (``-S -ll error``, ``TCP_NODELAY=1``): wall time of the whole process
  (start-up, association, C-FIND, release), ``--findscu-reps`` (default 5), median; one
  untimed ``findscu -v`` run per query first counts its responses.

Before the timed part the script waits (up to ``--wait-idle`` s) for the 1-minute load
average to fall below ``--max-load`` (default 1.5), and before each round for the CPUs to be
idle (``run.Quiet``); the CPU others used during each round is recorded.  After the timed
part, the SQL each query runs (captured from ``Search.find``) and its plan (SQLite ``EXPLAIN
QUERY PLAN``, PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``) go into the JSON; the report shows
those of queries slower than 50 ms.  ``--explain`` prints them (and SQLAlchemy's echo) for
every query without serving anything.

Results: ``WORK/results/latency-<backend>-<time>.json`` (and ``latency-<backend>.json``), and
the section of ``bench/RESULTS.md`` between ``<!-- latency:begin -->`` and
``<!-- latency:end -->`` (appended when absent; the rest of the file is left alone), with a
table per backend measured on the same spec (the latest ``latency-sqlite.json`` and
``latency-postgresql.json``).  ``--quick``: 500 patients, 5 + 2 repetitions, report in
``WORK/results/latency-quick.md``.  WORK is ``$DICOMQR_BENCH_WORK`` or
``/tmp/dicomqr-bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import archive_peers as peers_mod  # noqa: E402
import echo_client  # noqa: E402
import gen_data  # noqa: E402
import run as bench  # noqa: E402

HOST = bench.HOST
DCMTK = bench.DCMTK
log = bench.log
AE = "DICOMQR"
SCU_AE = "LATENCYSCU"
BEGIN, END = "<!-- latency:begin -->", "<!-- latency:end -->"
RETURN_KEYS = ("StudyInstanceUID", "StudyDate", "PatientID", "PatientName", "AccessionNumber",
               "ModalitiesInStudy", "NumberOfStudyRelatedInstances")
FULL = {"patients": 20_000, "studies": "2-4", "series": "2-4", "instances": "3-10", "seed": 1}
QUICK = {**FULL, "patients": 500}
SLOW_MS = 50.0
MAX_MATCHES = 50
EMPTY_PATIENT = "NO-SUCH-PATIENT"
PG_SCHEMA = "dicomqr_bench_latency"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


# --------------------------------------------------------------------------- database


def backend_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def shown_url(url: str, work: Path) -> str:
    """The URL without its password or this machine's paths."""
    from sqlalchemy.engine import make_url

    text = make_url(url).render_as_string(hide_password=True)
    return text.replace(str(work), "WORK")


def pg_schema_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    options = make_url(url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    m = re.search(r"-c\s*search_path=([^\s,]+)", options)
    return m.group(1).strip('"') if m else ""


def with_pg_schema(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema`` (libpq options)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    options = u.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    options = f"{options} -csearch_path={schema}".strip()
    return u.update_query_dict({"options": options}).render_as_string(hide_password=False)


def pg_engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(url, poolclass=NullPool)


def pg_reset_schema(url: str, schema: str, drop: bool) -> None:
    from sqlalchemy import text

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema) or schema in ("public", "pg_catalog"):
        raise SystemExit(f"refusing to use PostgreSQL schema {schema!r}: give a dedicated one "
                         "(--pg-schema NAME, lower-case letters, digits, _)")
    engine = pg_engine(url)
    try:
        with engine.begin() as conn:
            if drop:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()


def db_counts(url: str) -> dict[str, int] | None:
    """Rows of the four hierarchy tables, or None when they are not there."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.exc import SQLAlchemyError

    from dicomqr.archive.schema import instance, patient, series, study

    if backend_of(url) == "sqlite" and not Path(url.split("///", 1)[-1]).exists():
        return None
    engine = create_engine(url) if backend_of(url) == "sqlite" else pg_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                    for t in (patient, study, series, instance)}
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def db_versions(url: str) -> dict[str, str]:
    from sqlalchemy import text

    if backend_of(url) == "sqlite":
        return {"sqlite": sqlite3.sqlite_version}
    engine = pg_engine(url)
    try:
        with engine.connect() as conn:
            return {"postgresql": str(conn.execute(text("SHOW server_version")).scalar_one())}
    finally:
        engine.dispose()


def stats_state(url: str) -> str:
    """Whether the planner has statistics (ANALYZE) for the tables."""
    from sqlalchemy import text

    if backend_of(url) == "sqlite":
        path = url.split("///", 1)[-1]
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            has = con.execute("SELECT count(*) FROM sqlite_master WHERE name='sqlite_stat1'"
                              ).fetchone()[0]
        finally:
            con.close()
        return "sqlite_stat1 present (ANALYZE run)" if has else "no ANALYZE (no sqlite_stat1)"
    engine = pg_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT relname, last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN "
                "('patient','study','series','instance') ORDER BY relname")).all()
    finally:
        engine.dispose()
    parts = []
    for name, manual, auto in rows:
        when = manual or auto
        parts.append(f"{name}: {'analyzed ' + when.strftime('%H:%M:%S') if when else 'never'}"
                     f"{' (auto)' if when and not manual else ''}")
    return "; ".join(parts) or "?"


def run_analyze(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url) if backend_of(url) == "sqlite" else pg_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the index


def schema_digest() -> str:
    """A digest of the index's DDL (SQLite dialect) as this version of dicomqr makes it."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from dicomqr.archive.schema import metadata

    dialect = sqlite.dialect()
    parts = []
    for table in metadata.sorted_tables:
        parts.append(str(CreateTable(table).compile(dialect=dialect)))
        parts += sorted(str(CreateIndex(ix).compile(dialect=dialect)) for ix in table.indexes)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def spec_args(size: dict[str, Any]) -> list[str]:
    return ["--patients", str(size["patients"]), "--studies", size["studies"],
            "--series", size["series"], "--instances", size["instances"],
            "--seed", str(size["seed"])]


def ensure_index(a: argparse.Namespace, work: Path, size: dict[str, Any], url: str | None
                 ) -> tuple[Path, str, dict[str, Any]]:
    """(archive folder, index URL, manifest): the generated index, made when missing."""
    backend = "sqlite" if url is None else backend_of(url)
    where = json.dumps({"size": size, "url": shown_url(url, work) if url else "sqlite"},
                       sort_keys=True)
    # a change of the index schema (tables, columns, indexes) makes a new index
    key = json.dumps({"where": where, "schema": schema_digest()}, sort_keys=True)
    tag = (f"{backend}-p{size['patients']}-seed{size['seed']}-"
           f"{hashlib.sha256(where.encode()).hexdigest()[:8]}")
    root = work / "latency" / tag
    archive = root / "archive"
    db_url = url or f"sqlite:///{archive / 'index.sqlite'}"
    manifest_path = root / "manifest.json"
    if manifest_path.exists() and not a.regenerate:
        man = json.loads(manifest_path.read_text())
        counts = db_counts(db_url)
        if man.get("key") == key and man.get("complete") and counts == man.get("counts"):
            log(f"reusing the index generated {man['generated']} ({counts['instance']:,} "
                f"instances) in {root}")
            return archive, db_url, {**man, "reused": True}
        why = ("the index schema changed" if man.get("key") != key
               else f"the index does not match its manifest (counts {counts})")
        log(f"{root}: {why}; generating it again")
    # (re)generate
    if manifest_path.exists():
        manifest_path.unlink()
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    if backend == "postgresql":
        assert url is not None
        pg_reset_schema(url, pg_schema_of(url), drop=True)
    cmd = [bench.dicomqr_script(), "generate", str(archive), "--index-only",
           *(["--db", url] if url else []), *spec_args(size)]
    wait_load(a.wait_idle, a.max_load, "generating the index")
    log(f"generating the index: {shown_cmd(cmd, work)}")
    logfile = root / "generate.log"
    t0 = time.perf_counter()
    with open(logfile, "wb") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            check=False).returncode
    seconds = time.perf_counter() - t0
    text = logfile.read_text(errors="replace")
    if rc != 0:
        raise SystemExit(f"dicomqr generate failed ({rc}):\n{text[-2000:]}")
    counts = db_counts(db_url)
    if not counts or not counts["instance"]:
        raise SystemExit(f"dicomqr generate left no instances in the index:\n{text[-2000:]}")
    size_bytes = 0
    if backend == "sqlite":
        size_bytes = sum(p.stat().st_size for p in archive.glob("index.sqlite*"))
    else:
        from sqlalchemy import text as sql

        engine = pg_engine(db_url)
        try:
            with engine.connect() as conn:
                size_bytes = int(conn.execute(sql(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'")).scalar_one())
        finally:
            engine.dispose()
    man = {"key": key, "schema": schema_digest(), "complete": True, "size": size,
           "backend": backend,
           "url": shown_url(db_url, work),
           "generated": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
           "generate_command": shown_cmd(cmd, work), "generate_s": round(seconds, 1),
           "generate_output": text.strip().splitlines()[-2:], "counts": counts,
           "db_bytes": size_bytes, "loadavg_after": loadavg()}
    manifest_path.write_text(json.dumps(man, indent=1))
    log(f"generated {counts['instance']:,} instances in {seconds:.1f} s "
        f"({counts['instance'] / seconds:,.0f}/s); {size_bytes / 2**20:,.0f} MiB")
    return archive, db_url, man


def warm_index(archive: Path) -> None:
    for p in archive.glob("index.sqlite*"):
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


# --------------------------------------------------------------------------- queries


def pick_queries(db_url: str, seed: int) -> list[dict[str, Any]]:
    """The queries, with values read from the index so that each matches 1..~50 studies,
    and the number of studies SQL counts for each."""
    from sqlalchemy import and_, func, select

    from dicomqr.archive.index import open_engine
    from dicomqr.archive.schema import patient, study

    # dicomqr's engine on SQLite: LIKE case-sensitive, as the archive matches
    engine = open_engine(db_url) if backend_of(db_url) == "sqlite" else pg_engine(db_url)
    rng = random.Random(f"latency:{seed}")
    j = study.join(patient, study.c.patient_fk == patient.c.id)

    def count(*conds: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(j).where(and_(*conds)))
                   .scalar_one())

    queries: list[dict[str, Any]] = []

    def add(key: str, title: str, indexed: bool, keys: dict[str, str], n: int) -> None:
        queries.append({"key": key, "title": title, "indexed": indexed, "keys": keys,
                        "expected": n})

    with engine.connect() as conn:
        max_pat = int(conn.execute(select(func.max(patient.c.id))).scalar_one())
        max_study = int(conn.execute(select(func.max(study.c.id))).scalar_one())

        def a_patient() -> Any:
            while True:
                row = conn.execute(select(patient).where(
                    patient.c.id == rng.randint(1, max_pat))).first()
                if row is not None and row.patient_name.isascii() and "^" in row.patient_name:
                    return row

        def a_study(*conds: Any) -> Any:
            while True:
                row = conn.execute(select(study, patient.c.patient_id, patient.c.patient_name,
                                          patient.c.birth_date).select_from(j).where(
                    study.c.id == rng.randint(1, max_study), *conds)).first()
                if row is not None:
                    return row

        p = a_patient()
        add("patient-id", "PatientID, exact", True, {"PatientID": p.patient_id},
            count(patient.c.patient_id == p.patient_id))
        s = a_study()
        add("accession", "AccessionNumber, exact", True, {"AccessionNumber": s.accession},
            count(study.c.accession == s.accession))
        s = a_study()
        add("study-uid", "StudyInstanceUID, exact", True, {"StudyInstanceUID": s.study_uid},
            count(study.c.study_uid == s.study_uid))
        # PatientName prefix: the shortest prefix of a name that matches <= 50 studies
        for _ in range(50):
            p = a_patient()
            parts = p.patient_name.split("^")
            options = [f"{parts[0]}^{parts[1]}", p.patient_name, p.patient_name[:-1]]
            found = None
            for prefix in options:
                n = count(patient.c.patient_name.like(prefix.replace("_", "\\_") + "%",
                                                      escape="\\"))
                if 1 <= n <= MAX_MATCHES:
                    found = (prefix, n)
                    break
            if found:
                add("name-prefix", "PatientName, prefix wildcard", True,
                    {"PatientName": found[0] + "*"}, found[1])
                break
        for _ in range(50):
            s = a_study()
            n = count(study.c.study_date == s.study_date)
            if 1 <= n <= MAX_MATCHES:
                add("study-date", "StudyDate, one day", True, {"StudyDate": s.study_date}, n)
                break
        # PatientName SURNAME^G* and a StudyDate range of one year
        for _ in range(50):
            s = a_study()
            if not s.patient_name.isascii() or "^" not in s.patient_name:
                continue
            surname, given = s.patient_name.split("^")[:2]
            year = s.study_date[:4]
            for prefix in (f"{surname}^{given[:1]}", f"{surname}^{given}"):
                n = count(patient.c.patient_name.like(prefix + "%"),
                          study.c.study_date >= f"{year}0101", study.c.study_date <= f"{year}1231")
                if 1 <= n <= MAX_MATCHES:
                    break
            else:
                continue
            add("name-year", "PatientName wildcard + StudyDate range of a year", True,
                {"PatientName": prefix + "*", "StudyDate": f"{year}0101-{year}1231"}, n)
            break
        for _ in range(50):
            p = a_patient()
            n = count(patient.c.birth_date == p.birth_date)
            if 1 <= n <= MAX_MATCHES:
                add("birth-date", "PatientBirthDate, one day (no index)", False,
                    {"PatientBirthDate": p.birth_date}, n)
                break
        for _ in range(50):
            s = a_study()
            word = max(s.study_description.split(), key=len)
            t = s.study_time[:6]
            n = count(study.c.study_description.like(f"%{word}%"),
                      study.c.study_time >= t, study.c.study_time < t + "~")
            if 1 <= n <= MAX_MATCHES:
                add("desc-time", "StudyDescription wildcard + StudyTime (no index)", False,
                    {"StudyDescription": f"*{word}*", "StudyTime": t}, n)
                break
        add("empty", "PatientID of no patient (0 matches: the floor)", True,
            {"PatientID": EMPTY_PATIENT}, count(patient.c.patient_id == EMPTY_PATIENT))
    engine.dispose()
    return queries


def identifier(q: dict[str, Any]) -> Any:
    from pydicom import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    keys = dict.fromkeys(RETURN_KEYS, "")
    keys.update(q["keys"])
    for k in sorted(keys, key=_tag):
        setattr(ds, k, keys[k])
    return ds


def _tag(keyword: str) -> int:
    from pydicom.datadict import tag_for_keyword

    return int(tag_for_keyword(keyword) or 0)


def shown_keys(q: dict[str, Any]) -> str:
    return " ".join(f"`{k}={v}`" for k, v in q["keys"].items())


# --------------------------------------------------------------------------- clients


def findscu_cmd(port: int | str, q: dict[str, Any], verbose: bool = False) -> list[str]:
    keys = ["-k", "QueryRetrieveLevel=STUDY"]
    for k in RETURN_KEYS:
        if k not in q["keys"]:
            keys += ["-k", k]
    for k, v in q["keys"].items():
        keys += ["-k", f"{k}={v}"]
    return [str(DCMTK / "findscu"), "-S", "-aet", "FINDSCU", "-aec", AE,
            *(["-v"] if verbose else ["-ll", "error"]), *keys, HOST, str(port)]


_RESPONSE = re.compile(r"Find Response: \d+ \(Pending\)")
_FINAL = re.compile(r"Received Final Find Response \(([^)]*)\)")
_STUDY_UID = re.compile(r"\(0020,000d\) UI \[([^\]]*)\]")


def run_findscu(cmd: list[str], timeout: float = 120.0) -> tuple[float, str, list[str]]:
    """(wall seconds, output, errors) of one findscu process."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=bench.dcmtk_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout, check=False)
        seconds = time.perf_counter() - t0
        out = p.stdout.decode("utf-8", "replace")
        errors = [f"findscu exit status {p.returncode}"] if p.returncode else []
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, "", [f"findscu killed after {timeout:.0f} s"]
    errors += [ln for ln in out.splitlines() if ln.startswith(("E:", "F:"))][:3]
    return seconds, out, errors


class Scu:
    """dicomqr's SCU with one association kept open."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: Any = None

    async def open(self) -> None:
        from dicomqr.services import qr_scu
        from dicomqr.transport.client import connect

        self.conn = await connect(HOST, self.port, qr_scu.qr_proposals([STUDY_ROOT_FIND]),
                                  calling_ae=SCU_AE, called_ae=AE)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.release()

    async def find(self, ds: Any) -> tuple[float, list[Any], int | None]:
        """(seconds from the request to the final response, pending responses, status)."""
        from dicomqr.services import qr_scu

        matches = []
        final = None
        t0 = time.perf_counter()
        async for rsp in qr_scu.find(self.conn, ds, sop_class=STUDY_ROOT_FIND):
            if rsp.pending:
                matches.append(rsp)
            else:
                final = rsp.status
        return time.perf_counter() - t0, matches, final


def check_matches(matches: list[Any], final: int | None, expected: int) -> list[str]:
    errors = []
    if final != 0:
        errors.append(f"final status {final if final is None else hex(final)}")
    uids = {str(m.identifier.get("StudyInstanceUID", "")) for m in matches
            if m.identifier is not None}
    if len(matches) != expected:
        errors.append(f"{len(matches)} matches, SQL counts {expected}")
    if len(uids) != len(matches):
        errors.append(f"{len(uids)} distinct StudyInstanceUIDs in {len(matches)} matches")
    return errors


# --------------------------------------------------------------------------- noise


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_load(max_wait: float, below: float, what: str) -> float:
    """Wait (at most ``max_wait`` s) until the 1-minute load average is below ``below``."""
    t0 = time.monotonic()
    said = False
    while True:
        load1 = float(Path("/proc/loadavg").read_text().split()[0])
        waited = time.monotonic() - t0
        if load1 < below or waited >= max_wait:
            if said or load1 >= below:
                log(f"  load average {load1:.2f} after {waited:.0f} s; {what}")
            return waited
        if not said:
            log(f"waiting up to {max_wait:.0f} s for the load average ({load1:.2f}) to fall "
                f"below {below} before {what}")
            said = True
        time.sleep(5.0)


class RoundProbe:
    """CPU others used during a round: all busy CPU minus the server's and ours."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.wall = time.perf_counter()
        self.busy = bench._busy_seconds()
        self.server = bench._proc_cpu(server_pid)
        t = os.times()
        self.ours = t.user + t.system + t.children_user + t.children_system

    def other_pct(self) -> float:
        wall = time.perf_counter() - self.wall
        busy = bench._busy_seconds() - self.busy
        server = bench._proc_cpu(self.pid) - self.server
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system - self.ours
        other = max(0.0, busy - server - ours)
        return round(100.0 * other / (len(os.sched_getaffinity(0)) * wall), 1) if wall else 0.0


# --------------------------------------------------------------------------- measuring


def summary_ms(seconds: list[float]) -> dict[str, Any]:
    ms = sorted(1000.0 * s for s in seconds)
    if not ms:
        return {}
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p90_ms": round(p90, 3), "min_ms": round(ms[0], 3), "max_ms": round(ms[-1], 3),
            "runs_ms": [round(x, 3) for x in ms]}


def start_server(archive: Path, db_url: str, logdir: Path) -> tuple[peers_mod.Proc, int, list[str]]:
    port = bench.free_port()
    cmd = [bench.dicomqr_script(), "serve", "--ae-title", AE, "--host", HOST, "--port", str(port),
           "--archive", str(archive)]
    if backend_of(db_url) != "sqlite":
        cmd += ["--db", db_url]
    proc = peers_mod.Proc(cmd, logdir / "serve.log", archive)
    deadline = time.monotonic() + 120
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SystemExit(f"dicomqr serve exited at start-up:\n{proc.tail()}")
        try:
            echo_client.one_association(HOST, port, AE, timeout=5)
            return proc, port, cmd
        except (OSError, echo_client.EchoError) as exc:
            last = repr(exc)
            time.sleep(0.3)
    raise SystemExit(f"dicomqr serve not answering C-ECHO ({last}):\n{proc.tail()}")


async def measure_scu(port: int, queries: list[dict[str, Any]], reps: int, warmup: int,
                      quiet: bench.Quiet, server_pid: int) -> dict[str, Any]:
    scu = Scu(port)
    await scu.open()
    samples: dict[str, list[float]] = {q["key"]: [] for q in queries}
    errors: dict[str, list[str]] = {q["key"]: [] for q in queries}
    counts: dict[str, int] = {}
    others: list[float] = []
    dss = {q["key"]: identifier(q) for q in queries}
    try:
        for r in range(warmup + reps):
            quiet.wait()
            probe = RoundProbe(server_pid)
            order = queries[r % len(queries):] + queries[:r % len(queries)]
            for q in order:
                seconds, matches, final = await scu.find(dss[q["key"]])
                if r < warmup:
                    if r == 0:
                        errors[q["key"]] += check_matches(matches, final, q["expected"])
                        counts[q["key"]] = len(matches)
                    continue
                samples[q["key"]].append(seconds)
                if len(matches) != counts.get(q["key"]) or final != 0:
                    errors[q["key"]].append(f"round {r}: {len(matches)} matches, final "
                                            f"{final if final is None else hex(final)}")
            if r >= warmup:
                others.append(probe.other_pct())
    finally:
        await scu.close()
    return {"cells": {k: {**summary_ms(v), "matches": counts.get(k), "errors": errors[k][:5]}
                      for k, v in samples.items()},
            "others_cpu_pct": others}


def measure_search(db_url: str, archive: Path, queries: list[dict[str, Any]], reps: int,
                   warmup: int) -> dict[str, Any]:
    from dicomqr.archive.index import Index
    from dicomqr.archive.search import Search

    index = Index(db_url, archive)
    search = Search(index, AE)
    samples: dict[str, list[float]] = {q["key"]: [] for q in queries}
    counts: dict[str, int] = {}
    dss = {q["key"]: identifier(q) for q in queries}
    try:
        for r in range(warmup + reps):
            for q in queries:
                t0 = time.perf_counter()
                n = sum(1 for _ in search.find(dss[q["key"]], STUDY_ROOT_FIND, "STUDY",
                                               transfer_syntax=IMPLICIT_LE))
                seconds = time.perf_counter() - t0
                counts[q["key"]] = n
                if r >= warmup:
                    samples[q["key"]].append(seconds)
    finally:
        index.close()
    return {k: {**summary_ms(v), "matches": counts.get(k)} for k, v in samples.items()}


def measure_findscu(port: int, queries: list[dict[str, Any]], reps: int, quiet: bench.Quiet,
                    server_pid: int) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for q in queries:  # untimed counting run (and warm-up)
        _, out, errors = run_findscu(findscu_cmd(port, q, verbose=True))
        n = len(_RESPONSE.findall(out))
        final = _FINAL.findall(out)
        # the responses only (findscu -v dumps the request identifier first)
        answers = out.split("Find Response:", 1)[1] if "Find Response:" in out else ""
        uids = {u.rstrip("\0 ") for u in _STUDY_UID.findall(answers)}
        if n != q["expected"]:
            errors.append(f"{n} responses, SQL counts {q['expected']}")
        if len(uids) != n:
            errors.append(f"{len(uids)} distinct StudyInstanceUIDs in {n} responses")
        if not final or final[-1] != "Success":
            errors.append(f"final response {final[-1] if final else 'missing'}")
        cells[q["key"]] = {"matches": n, "errors": errors, "runs": []}
    others = []
    for r in range(reps):
        quiet.wait()
        probe = RoundProbe(server_pid)
        order = queries[r % len(queries):] + queries[:r % len(queries)]
        for q in order:
            seconds, _, errors = run_findscu(findscu_cmd(port, q))
            cells[q["key"]]["runs"].append(seconds)
            cells[q["key"]]["errors"] += errors
        others.append(probe.other_pct())
    out = {}
    for k, c in cells.items():
        out[k] = {**summary_ms(c.pop("runs")), **c}
    return {"cells": out, "others_cpu_pct": others}


def capture_plans(db_url: str, archive: Path, queries: list[dict[str, Any]],
                  echo: bool = False) -> dict[str, dict[str, Any]]:
    """The SQL ``Search.find`` runs for each query, and the database's plan of it."""
    from sqlalchemy import event

    from dicomqr.archive.index import Index
    from dicomqr.archive.search import Search

    if echo:
        logging.basicConfig(stream=sys.stderr, format="%(name)s: %(message)s")
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    index = Index(db_url, archive)
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(index.engine, "before_cursor_execute", grab)
    search = Search(index, AE)
    out: dict[str, dict[str, Any]] = {}
    try:
        for q in queries:
            seen.clear()
            n = sum(1 for _ in search.find(identifier(q), STUDY_ROOT_FIND, "STUDY",
                                           transfer_syntax=IMPLICIT_LE))
            finds = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
            if not finds:
                out[q["key"]] = {"matches": n, "sql": "", "plan": []}
                continue
            statement, params = finds[-1]
            event.remove(index.engine, "before_cursor_execute", grab)
            try:
                plan = explain(index, statement, params)
            finally:
                event.listen(index.engine, "before_cursor_execute", grab)
            out[q["key"]] = {"matches": n, "sql": statement, "params": _jsonable(params),
                             "plan": plan}
    finally:
        index.close()
        if echo:
            logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    return out


def explain(index: Any, statement: str, params: Any) -> list[str]:
    with index.engine.connect() as conn:
        if index.backend == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            parents: dict[int, int] = {}
            lines = []
            for row in rows:
                node, parent, detail = row[0], row[1], row[3]
                depth = parents.get(parent, -1) + 1
                parents[node] = depth
                lines.append("  " * depth + str(detail))
            return lines
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
        return [str(r[0]) for r in rows]


def _jsonable(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: str(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [str(v) for v in params]
    return str(params)


# --------------------------------------------------------------------------- report


def shown_cmd(cmd: list[str], work: Path) -> str:
    text = shlex.join(cmd).replace(str(work), "WORK").replace(str(DCMTK) + "/", "")
    text = text.replace(str(Path(bench.dicomqr_script()).parent) + "/", "")
    return re.sub(r"(postgresql\+?\w*://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def fmt_ms(cell: dict[str, Any] | None, p90: bool = False) -> str:
    if not cell or "median_ms" not in cell:
        return "n/a"
    text = _num(cell["median_ms"])
    if p90:
        text += f" ({_num(cell['p90_ms'])})"
    if cell.get("errors"):
        text += " FAILED"
    return text


def _num(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _approx(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1_000_000 else f"{n:,}"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} %" if values else "?"


def render_backend(res: dict[str, Any]) -> list[str]:
    m, gen, cfg = res["meta"], res["index"], res["config"]
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(gen["backend"], gen["backend"])
    version = next(iter(res["machine"].get("db_versions", {}).values()), "?")
    c = gen["counts"]
    lines = [
        f"### {label} {version}",
        "",
        f"Measured {m['date']} with dicomqr {res['machine']['dicomqr']} (harness wall time "
        f"{m['wall_s']:.0f} s). Command: "
        f"`{m['command']}` (from the repository root).",
        "",
        f"Index: {c['patient']:,} patients, {c['study']:,} studies, {c['series']:,} series, "
        f"{c['instance']:,} instances ({gen['db_bytes'] / 2**20:,.0f} MiB"
        f"{', schema ' + pg_schema_of(gen['url']) if gen['backend'] != 'sqlite' else ''}), "
        f"made by `{gen['generate_command']}` in {gen['generate_s']:.0f} s "
        f"({c['instance'] / gen['generate_s']:,.0f} instances/s, {gen['generated']}"
        f"{', reused by this run' if gen.get('reused') else ''}). Planner statistics: "
        f"{res['stats_state']}.",
        "",
        f"Load average {m['loadavg_start']} at the start of the timed part, {m['loadavg_end']} "
        f"at the end (waited {m['waited_load_s']:.0f} s for < {cfg['max_load']}); other "
        f"processes used a median {_median(res['scu']['others_cpu_pct'])} of the CPUs during "
        f"the SCU rounds, {_median(res['findscu']['others_cpu_pct'])} during the findscu "
        "rounds.",
        "",
        f"| query | keys | matches | dicomqr SCU: median (p90), ms, {cfg['reps']} runs "
        f"| Search.find in-process: median (p90), ms | findscu process: median, ms, "
        f"{cfg['findscu_reps']} runs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for q in res["queries"]:
        k = q["key"]
        scu, srch, fs = res["scu"]["cells"].get(k), res["search"].get(k), \
            res["findscu"]["cells"].get(k)
        matches = scu.get("matches") if scu else None
        shown = "n/a" if matches is None else f"{matches:,}"
        lines.append(f"| {q['title']} | {shown_keys(q)} | {shown} | **{fmt_ms(scu, True)}** "
                     f"| {fmt_ms(srch, True)} | {fmt_ms(fs)} |")
    lines.append("")
    paths = [f"- {q['title']}: {access_path(res['plans'][q['key']]['plan'])}"
             for q in res["queries"] if res.get("plans", {}).get(q["key"], {}).get("plan")]
    if paths:
        lines += [f"{label}: access paths of the outer query (subqueries of the computed "
                  "attributes left out; the whole plans are in the JSON):", "", *paths, ""]
    failed = [(q["key"], e) for q in res["queries"]
              for part in (res["scu"]["cells"], res["findscu"]["cells"])
              for e in part.get(q["key"], {}).get("errors", [])]
    if failed:
        lines += ["Failed checks: " + "; ".join(f"{k}: {e}" for k, e in failed[:10]), ""]
    slow = [q for q in res["queries"]
            if res["scu"]["cells"].get(q["key"], {}).get("median_ms", 0) > SLOW_MS]
    for q in slow:
        plan = res.get("plans", {}).get(q["key"])
        if not plan:
            continue
        lines += [f"<details><summary>{label}: SQL and plan of “{q['title']}” (over "
                  f"{SLOW_MS:.0f} ms)</summary>", "", "```sql", plan["sql"].strip(), "```", "",
                  f"parameters: `{plan.get('params')}`", "", "```", *plan["plan"], "```", "",
                  "</details>", ""]
    return lines


def access_path(plan: list[str]) -> str:
    """The scans of the outer query, from a SQLite or PostgreSQL plan (subqueries left out)."""
    out = []
    for line in plan:
        text = line.strip()
        if text.startswith(("CORRELATED", "SubPlan", "Planning")):
            break
        text = text.removeprefix("->").strip()
        if text.startswith(("SCAN", "SEARCH", "MULTI-INDEX")):
            out.append(text.replace("USING INTEGER PRIMARY KEY (rowid=?)", "by rowid"))
        elif "Scan" in text:
            out.append(text.split("  (", 1)[0])
        elif text.startswith("Rows Removed by Filter"):
            out[-1] += f" ({text.lower()})"
    return "`" + " / ".join(out) + "`" if out else "?"


def render(results: list[dict[str, Any]]) -> str:
    first = results[0]
    mach = first["machine"]
    size = first["config"]["size"]
    lines = [
        BEGIN,
        f"## C-FIND latency on an index of {_approx(first['index']['counts']['instance'])} "
        "instances",
        "",
        "`python bench/index_latency.py [--db URL]`: an index generated straight into the "
        "database with `dicomqr generate OUT --index-only "
        f"{shlex.join(spec_args(size))}` (no files), served by `dicomqr serve`, queried "
        "with Study Root C-FINDs at STUDY level returning "
        + ", ".join(RETURN_KEYS) + ". The values are picked from the index so that each "
        "query matches a few studies (matches = responses, the same for every client and "
        "checked against an SQL count). Clients: **dicomqr SCU** = `dicomqr.services.qr_scu."
        "find` in the harness process over one association kept open, from the C-FIND-RQ to "
        "the final response (after 2 warm-up rounds; queries interleaved); **Search.find** = "
        "the archive's query code called in the harness process on the same index (SQL and "
        "encoding of the identifiers, no network, no DIMSE); **findscu** = wall time of a whole "
        "DCMTK `findscu -S -ll error` process (`TCP_NODELAY=1`): process start-up, "
        "association, C-FIND, release; the 0-match row is its floor. \"(no index)\": keys "
        "in columns without an index (the generator sets no study-level attribute that lacks "
        "a column).",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['memory']} RAM, "
        f"{mach['os']}, {mach['python']}, DCMTK {mach['dcmtk_package']}, "
        f"uvloop {mach['uvloop']}; scratch on {mach['work_fs']}. "
        "Shared with other work: medians of repeated runs, the machine's noise noted per table.",
        "",
    ]
    for res in results:
        lines += render_backend(res)
    lines += [f"JSON: `WORK/results/{r['meta']['json']}`" for r in results]
    lines += ["", END, ""]
    return "\n".join(lines)





def sections_for(resdir: Path, res: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    """This run's results and the latest of the other backend on the same spec."""
    out = []
    for backend in ("sqlite", "postgresql"):
        if backend == res["index"]["backend"]:
            out.append(res)
            continue
        path = resdir / f"latency-{'quick-' if quick else ''}{backend}.json"
        if path.exists():
            other = json.loads(path.read_text())
            if other["config"]["size"] == res["config"]["size"]:
                out.append(other)
    return out


# --------------------------------------------------------------------------- main


def _on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--db", metavar="URL",
                    help="index database (SQLAlchemy URL; default: SQLite in the work folder)")
    ap.add_argument("--pg-schema", metavar="NAME",
                    help=f"PostgreSQL schema for the index when URL sets no search_path "
                    f"(default {PG_SCHEMA}, {PG_SCHEMA}_quick with --quick)")
    ap.add_argument("--patients", type=int, help=f"patients (default {FULL['patients']:,}; "
                    f"--quick {QUICK['patients']})")
    ap.add_argument("--reps", type=int, help="timed rounds of the in-process clients "
                    "(default 20; --quick 5)")
    ap.add_argument("--findscu-reps", type=int, help="timed findscu rounds (default 5; "
                    "--quick 2)")
    ap.add_argument("--quick", action="store_true",
                    help="500 patients and few rounds, to check the harness; the report goes "
                    "to WORK/results/latency-quick.md unless --results-md is given")
    ap.add_argument("--regenerate", action="store_true",
                    help="generate the index again even when the manifest matches")
    ap.add_argument("--analyze", action="store_true",
                    help="run ANALYZE on the index before measuring (dicomqr does not)")
    ap.add_argument("--explain", action="store_true",
                    help="only print each query's SQL (SQLAlchemy echo) and plan; no server")
    ap.add_argument("--wait-idle", type=float, default=900.0, metavar="SECONDS",
                    help="wait up to SECONDS for the load average to fall below --max-load "
                    "before generating and before the timed part, and up to 20 s before each "
                    "round for idle CPUs (default 900; 0: never wait)")
    ap.add_argument("--max-load", type=float, default=1.5,
                    help="1-minute load average to wait for (default 1.5)")
    ap.add_argument("--noise-budget", type=float, default=300.0, metavar="SECONDS",
                    help="total time the per-round waits may add (default 300)")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir(),
                    help="scratch folder (default $DICOMQR_BENCH_WORK or /tmp/dicomqr-bench)")
    ap.add_argument("--results-md", type=Path,
                    help="report whose latency section is (re)written (default "
                    "bench/RESULTS.md; with --quick WORK/results/latency-quick.md)")
    ap.add_argument("--render-only", type=Path, nargs="+", metavar="JSON",
                    help="only render the section from results JSON files (one per backend)")
    ap.add_argument("--lock-wait", type=float, default=3600.0, metavar="SECONDS",
                    help="wait up to SECONDS for another benchmark on the same work folder")
    a = ap.parse_args(argv)
    work: Path = a.work.resolve()
    results_md = a.results_md or (work / "results" / "latency-quick.md" if a.quick
                                  else BENCH / "RESULTS.md")
    if a.render_only:
        bench.write_section(results_md, render([json.loads(p.read_text())
                                                for p in a.render_only]), BEGIN, END)
        log(f"wrote the latency section of {results_md}")
        return 0
    if not (DCMTK / "findscu").exists():
        raise SystemExit(f"{DCMTK / 'findscu'} missing: install DCMTK (apt-get install dcmtk)")
    size = dict(QUICK if a.quick else FULL)
    if a.patients:
        size["patients"] = a.patients
    reps = a.reps or (5 if a.quick else 20)
    fs_reps = a.findscu_reps or (2 if a.quick else 5)
    warmup = 2
    url = a.db
    if url and backend_of(url) == "postgresql":
        schema = pg_schema_of(url)
        if not schema:
            schema = a.pg_schema or (PG_SCHEMA + ("_quick" if a.quick else ""))
            url = with_pg_schema(url, schema)
        pg_reset_schema(url, schema, drop=False)
    elif url and backend_of(url) != "sqlite":
        raise SystemExit(f"unsupported database {backend_of(url)}")
    work.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_signal)
    lock = open(work / ".run.lock", "w")  # noqa: SIM115 - held until exit
    if not a.explain and not bench.take_lock(lock, a.lock_wait):
        log("another benchmark still holds the work folder's lock; going on anyway")
    started = time.monotonic()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    archive, db_url, man = ensure_index(a, work, size, url)
    if a.analyze:
        log("ANALYZE")
        run_analyze(db_url)
    queries = pick_queries(db_url, size["seed"])
    for q in queries:
        log(f"  {q['key']:<12} {shown_keys(q)}: {q['expected']} studies")
    if a.explain:
        plans = capture_plans(db_url, archive, queries, echo=True)
        for q in queries:
            p = plans[q["key"]]
            print(f"\n== {q['key']}: {shown_keys(q)} ({p['matches']} matches)\n{p['sql']}\n"
                  f"parameters: {p.get('params')}\n" + "\n".join(p["plan"]))
        return 0
    backend = backend_of(db_url)
    res: dict[str, Any] = {
        "meta": {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "command": shown_cmd(["python", "bench/index_latency.py", *argv], work),
                 "env_work": os.environ.get("DICOMQR_BENCH_WORK", ""), "quick": a.quick},
        "machine": {**bench.machine_info(work), "db_versions": db_versions(db_url)},
        "config": {"size": size, "reps": reps, "warmup": warmup, "findscu_reps": fs_reps,
                   "wait_idle": a.wait_idle, "max_load": a.max_load,
                   "noise_budget": a.noise_budget, "analyze": a.analyze,
                   "return_keys": list(RETURN_KEYS)},
        "index": {k: v for k, v in man.items() if k != "key"},
        "stats_state": stats_state(db_url),
        "queries": queries,
    }
    quiet = bench.Quiet(min(a.wait_idle, 20.0), 0.0, a.noise_budget)
    run_dir = work / "latency" / "runs" / f"{stamp}-{os.getpid()}"
    proc = None
    try:
        if backend == "sqlite":
            warm_index(archive)
        proc, port, serve_cmd = start_server(archive, db_url, run_dir)
        res["meta"]["serve_command"] = shown_cmd(serve_cmd, work).replace(str(port), "PORT")
        res["meta"]["findscu_command"] = shown_cmd(
            ["TCP_NODELAY=1", *findscu_cmd("PORT", queries[0])], work)
        res["meta"]["waited_load_s"] = wait_load(a.wait_idle, a.max_load, "the timed part")
        res["meta"]["loadavg_start"] = loadavg()
        log(f"dicomqr SCU: {warmup} + {reps} rounds of {len(queries)} queries")
        res["scu"] = asyncio.run(measure_scu(port, queries, reps, warmup, quiet, proc.pid))
        log(f"findscu: 1 counting + {fs_reps} rounds")
        res["findscu"] = measure_findscu(port, queries, fs_reps, quiet, proc.pid)
        log(f"Search.find in-process: {warmup} + {reps} rounds")
        res["search"] = measure_search(db_url, archive, queries, reps, warmup)
        res["meta"]["loadavg_end"] = loadavg()
        if not proc.alive():
            raise SystemExit(f"dicomqr serve died:\n{proc.tail()}")
        log("capturing the SQL and plans")
        res["plans"] = capture_plans(db_url, archive, queries)
        res["stats_state_end"] = stats_state(db_url)
    except KeyboardInterrupt:
        log("interrupted; stopping the server")
        return 130
    finally:
        peers_mod.stop_all()
    res["meta"]["wall_s"] = time.monotonic() - started
    resdir = work / "results"
    resdir.mkdir(parents=True, exist_ok=True)
    prefix = f"latency-{'quick-' if a.quick else ''}{backend}"
    res["meta"]["json"] = f"{prefix}-{stamp}.json"
    text = json.dumps(res, indent=1, default=str)
    (resdir / res["meta"]["json"]).write_text(text)
    (resdir / f"{prefix}.json").write_text(text)
    results_md.parent.mkdir(parents=True, exist_ok=True)
    bench.write_section(results_md, render(sections_for(resdir, res, a.quick)), BEGIN, END)
    for line in render_backend(res):
        if line.startswith("|"):
            print(line)
    log(f"wrote {resdir / res['meta']['json']} and the latency section of {results_md} in "
        f"{res['meta']['wall_s']:.0f} s")
    failed = [k for part in (res["scu"]["cells"], res["findscu"]["cells"])
              for k, c in part.items() if c.get("errors")]
    if failed:
        log(f"FAILED checks: {', '.join(sorted(set(failed)))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
