"""The archive server (``dicomqr serve``) end to end, over sockets, with real peers.

Once per module and per index database (SQLite inside the archive folder,
the default; a fresh PostgreSQL schema), ``dicomqr serve`` runs as a
subprocess and DCMTK's storescu (``+sd +r`` on folders) fills it with

- pydicom's test files (every Part 10 file of the package but DICOMDIRs),
  each transfer syntax from a folder of its own, sent with the storescu
  option that proposes that syntax (DCMTK proposes only uncompressed
  syntaxes unless told); storescu ignores the files it cannot read
  (``DCMTK_UNREADABLE``), and the archive keeps the first of several files
  sharing a SOP Instance UID;
- a small generated archive (:mod:`dicomqr.archive.generate`), whose
  attribute values the queries are checked against.

Then DCMTK's findscu, getscu and movescu, and pynetdicom as SCU, query and
retrieve it: the matches against what was stored (the generator's records,
the index), the instances received byte for byte against the stored files,
a JPEG instance decompressed for a requester that accepts only Explicit VR
Little Endian, and an unknown move destination refused with 0xA801.

Everything here is synchronous: the archive, storescp and the pynetdicom
move destination run in processes or threads of their own.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_role, evt
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from dicomqr import status, uids
from dicomqr.archive.generate import GenerateSpec, iter_instances, write_archive
from dicomqr.archive.schema import instance, series, study
from tests.conftest import _drop_schema, dcmtk, dcmtk_env, pg_schema_url
from tests.interop.conftest import BIT_PRESERVING, STORESCP_FLAGS
from tests.interop.helpers import (
    DCMTK_SCU_TIMEOUTS,
    DCMTK_UNREADABLE,
    DICOMQR,
    STORESCU_PROPOSE,
    Completed,
    dataset_differences,
    dataset_part,
    free_port,
    is_encapsulated,
    listening,
    read,
)
from tests.interop.qr_helpers import final_status_lines

pytestmark = pytest.mark.interop

ARCHIVE_AE = "ARCHIVE"
LOADER_AE = "LOADER"
STORESCP_AE = "STORESCP"
PYN_DEST_AE = "PYNDEST"
TIMEOUT = 60

#: A few dozen instances (the seed and ranges fix them): 4 patients, 1-2
#: studies each, 1-3 series a study, 1-4 instances a series, 8x8 pixels.
SPEC = GenerateSpec(seed=11, patients=4, studies=(1, 2), series=(1, 3), instances=(1, 4),
                    rows=8, cols=8, start_date=date(2015, 1, 1), end_date=date(2023, 12, 31),
                    non_ascii=0.0)
GEN_IDS = f"PAT{SPEC.seed}-*"

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

_IGNORED = re.compile(r"in file: (.+?), ignoring file")
_SENT = re.compile(r"Sending file: (.+)")
_LISTENING = re.compile(rf"{ARCHIVE_AE} listening on 127\.0\.0\.1:(\d+)")


# ------------------------------------------------------------------ processes
def tool(name: str, *args: str | Path, timeout: float = TIMEOUT) -> Completed:
    """A DCMTK tool run to its end (TCP_NODELAY=1, DCMTK's own timeouts)."""
    argv = [dcmtk(name), *map(str, args)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, env=dcmtk_env(), check=False)
    return Completed(tuple(argv), proc.returncode, proc.stdout.decode("utf-8", "replace"),
                     proc.stderr.decode("utf-8", "replace"))


def scu(name: str, port: int, *args: str | Path, files: Sequence[Path] = ()) -> Completed:
    """findscu/getscu/movescu/storescu -v to the archive on ``port``."""
    return tool(name, "-v", *DCMTK_SCU_TIMEOUTS, "-aec", ARCHIVE_AE, *args, "127.0.0.1",
                str(port), *files)


def log_of(res: Completed) -> str:
    return res.stderr + res.stdout


def wait_until(predicate: Any, what: str, proc: subprocess.Popen[bytes], log: Path,
               timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited ({proc.returncode}) before {what}:\n"
                                 + log.read_text("utf-8", "replace")[-4000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s:\n"
                                 + log.read_text("utf-8", "replace")[-4000:])
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------ the destinations
@dataclass
class PynDest:
    """pynetdicom's storage SCP (a C-MOVE destination): what it received."""

    server: Any
    port: int
    received: list[tuple[str, str, bytes]] = field(default_factory=list)  # uid, ts, dataset
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[tuple[str, str, bytes]]:
        with self.lock:
            out, self.received[:] = list(self.received), []
        return out


def start_pyn_dest() -> PynDest:
    ae = AE(ae_title=PYN_DEST_AE)
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(str(cx.abstract_syntax), ALL_TRANSFER_SYNTAXES)
    dest = PynDest(None, 0)

    def on_store(event: Any) -> int:
        with dest.lock:
            dest.received.append((str(event.request.AffectedSOPInstanceUID),
                                  str(event.context.transfer_syntax),
                                  event.encoded_dataset(include_meta=False)))
        return 0

    dest.server = ae.start_server(("127.0.0.1", 0), block=False,
                                  evt_handlers=[(evt.EVT_C_STORE, on_store)])
    dest.port = int(dest.server.server_address[1])
    return dest


def start_storescp(folder: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """DCMTK's storescp, bit preserving (+B), accepting every syntax (+xa)."""
    folder.mkdir()
    for attempt in range(3):  # the free port may be taken before storescp binds it
        port = free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [dcmtk("storescp"), *STORESCP_FLAGS, BIT_PRESERVING, "-aet", STORESCP_AE,
                 "-od", str(folder), str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=dcmtk_env())
        try:
            wait_until(lambda p=port: listening(p), f"storescp on {port}", proc, log, 10)
        except AssertionError:
            stop(proc)
            if attempt == 2:
                raise
            continue
        return proc, port
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ the loaded archive
@dataclass
class Loaded:
    backend: str
    port: int
    root: Path
    db_url: str
    work: Path
    #: every file storescu sent, in the order it sent them
    sent: list[Path]
    #: SOP Instance UID -> the file sent first with it (what the archive keeps)
    kept: dict[str, Path]
    #: the datasets of ``kept``
    datasets: dict[str, Dataset]
    #: pydicom's files storescu ignored (names)
    ignored: set[str]
    #: the generated instances (keyword -> value)
    generated: list[dict[str, str]]
    storescp_dir: Path
    pyn_dest: PynDest
    serve_log: Path

    def index_rows(self) -> list[Any]:
        """(sop_uid, path, transfer_syntax, sop_class, series_uid, study_uid) of
        every instance in the index."""
        engine = create_engine(self.db_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(
                    select(instance.c.sop_uid, instance.c.path, instance.c.transfer_syntax,
                           instance.c.sop_class, series.c.series_uid, study.c.study_uid)
                    .join(series, instance.c.series_fk == series.c.id)
                    .join(study, series.c.study_fk == study.c.id)))
        finally:
            engine.dispose()

    def stored(self) -> dict[str, Path]:
        """SOP Instance UID -> the stored file, from the index."""
        return {r.sop_uid: self.root / r.path for r in self.index_rows()}

    def mirror(self) -> Mirror:
        return Mirror(self.datasets.values())

    def gen_studies(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {}
        for rec in self.generated:
            out.setdefault(rec["StudyInstanceUID"], []).append(rec)
        return out


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value)


@dataclass
class StudyRow:
    patient: tuple[str, str]
    date: str
    series: Counter[str] = field(default_factory=Counter)  # series -> instances
    modalities: set[str] = field(default_factory=set)


class Mirror:
    """What the index should hold, worked out from the instances the archive
    kept, in the order they came: a patient (Patient ID and Issuer), study or
    series row takes its attributes from its first instance, and an instance
    goes to the study of its series."""

    def __init__(self, datasets: Any) -> None:
        self.patients: dict[tuple[str, str], str] = {}  # -> Patient's Name
        self.studies: dict[str, StudyRow] = {}
        self.series_study: dict[str, str] = {}
        for ds in datasets:
            key = (_text(ds, "PatientID"), _text(ds, "IssuerOfPatientID"))
            self.patients.setdefault(key, _text(ds, "PatientName"))
            # (an ACR-NEMA style date, 1997.04.24, is kept as 19970424)
            st = self.studies.setdefault(_text(ds, "StudyInstanceUID"),
                                         StudyRow(key, _text(ds, "StudyDate").replace(".", "")))
            se = _text(ds, "SeriesInstanceUID")
            if se not in self.series_study:
                self.series_study[se] = _text(ds, "StudyInstanceUID")
                if _text(ds, "Modality"):
                    st.modalities.add(_text(ds, "Modality"))
            self.studies[self.series_study[se]].series[se] += 1

    def study_matches(self, *, patient_id: str = "*", name: str = "*", low: str = "",
                      high: str = "99999999", modality: str = "") -> set[str]:
        """The studies a STUDY query matches: wild cards on Patient ID and
        Name, a Study Date range, Modalities in Study.  An entity whose
        attribute is empty matches any value (PS3.4 C.2.2.1.2): for
        Modalities in Study, a study none of whose series has a Modality."""
        def like(value: str, pattern: str) -> bool:
            return value == "" or fnmatch.fnmatchcase(value, pattern)

        return {uid for uid, st in self.studies.items()
                if like(st.patient[0], patient_id) and like(self.patients[st.patient], name)
                and (st.date == "" or low <= st.date <= high)
                and (not modality or not st.modalities or modality in st.modalities)}


def _storescu_folder(port: int, folder: Path, *options: str) -> tuple[list[Path], list[str]]:
    res = scu("storescu", port, "-aet", LOADER_AE, "-R", "-nh", "+sd", "+r", *options,
              files=[folder])
    assert res.returncode == 0, str(res)
    log = log_of(res)
    assert "Store Failed" not in log, str(res)
    sent = [Path(p.strip()) for p in _SENT.findall(log)]
    assert log.count("Received Store Response (Success)") == len(sent), str(res)
    return sent, _IGNORED.findall(log)


def _load(port: int, src: Path, pydicom_files: Sequence[Path]) -> tuple[list[Path], set[str]]:
    """storescu every file: the generated archive, then pydicom's files
    transfer syntax by transfer syntax.  The files sent, in order; the
    names of those storescu ignored."""
    sent, _ = _storescu_folder(port, src / "generated")
    groups: dict[str, list[Path]] = {}
    for p in pydicom_files:
        groups.setdefault(STORESCU_PROPOSE[dataset_part(p)[0]], []).append(p)
    ignored: set[str] = set()
    for option, files in sorted(groups.items()):
        folder = src / option.lstrip("-")
        folder.mkdir()
        for i, p in enumerate(files):
            shutil.copyfile(p, folder / f"{i:03d}_{p.name}")
        got, skipped = _storescu_folder(port, folder, option)
        sent += got
        ignored |= {Path(s).name.split("_", 1)[1] for s in skipped}
    return sent, ignored


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           pydicom_test_files: list[Path]) -> Iterator[Loaded]:
    """``dicomqr serve`` filled by storescu, with its two C-MOVE destinations
    (DCMTK's storescp and pynetdicom's storage SCP) running; one per module
    and database: SQLite inside the archive folder (the default, no --db), or
    a fresh schema of the PostgreSQL test database (dropped afterwards)."""
    backend = request.param
    work = tmp_path_factory.mktemp(f"archive-{backend}")
    root = work / "archive"
    admin: Any = None
    schema = ""
    if backend == "sqlite":
        db_url, db_args = f"sqlite:///{root}/index.sqlite", []
    else:
        from sqlalchemy import text

        base: str = request.getfixturevalue("pg_base_url")
        admin = request.getfixturevalue("pg_admin_engine")
        schema = f"t_{secrets.token_hex(8)}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = pg_schema_url(base, schema)
        db_args = ["--db", db_url]
    src = work / "src"
    write_archive(SPEC, src / "generated")
    pyn = start_pyn_dest()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        storescp, scp_port = start_storescp(work / "storescp", work / "storescp.log")
        procs.append(storescp)
        serve_log = work / "serve.log"
        with open(serve_log, "wb") as out:
            serve = subprocess.Popen(
                [*DICOMQR, "serve", "--ae-title", ARCHIVE_AE, "--host", "127.0.0.1",
                 "--port", "0", "--archive", str(root), *db_args,
                 "--destination", f"{STORESCP_AE}=127.0.0.1:{scp_port}",
                 "--destination", f"{PYN_DEST_AE}=127.0.0.1:{pyn.port}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        procs.append(serve)
        wait_until(lambda: _LISTENING.search(serve_log.read_text("utf-8", "replace")),
                   "'listening on' log line", serve, serve_log)
        match = _LISTENING.search(serve_log.read_text("utf-8", "replace"))
        assert match is not None
        port = int(match.group(1))
        sent, ignored = _load(port, src, pydicom_test_files)
        kept: dict[str, Path] = {}
        datasets: dict[str, Dataset] = {}
        for path in sent:
            ds = read(path)
            uid = str(ds.SOPInstanceUID)
            if uid not in kept:
                kept[uid], datasets[uid] = path, ds
        yield Loaded(backend, port, root, db_url, work, sent, kept, datasets, ignored,
                     list(iter_instances(SPEC)), work / "storescp", pyn, serve_log)
        log = serve_log.read_text("utf-8", "replace")
        assert "Traceback" not in log, log[-4000:]
    finally:
        for proc in reversed(procs):
            stop(proc)
        pyn.server.shutdown()
        if admin is not None:
            _drop_schema(admin, schema)


# ------------------------------------------------------------------ C-STORE
def test_storescu_stores_each_instance_once(loaded: Loaded) -> None:
    """What storescu sent is in the index and the files, once per SOP
    Instance UID (the first file sent), as sent: transfer syntax and
    decoded dataset; index and files agree; nothing is left in .incoming."""
    assert loaded.ignored == set(DCMTK_UNREADABLE), loaded.ignored
    assert len(loaded.sent) > len(loaded.kept)  # pydicom's files share some UIDs
    assert {r["SOPInstanceUID"] for r in loaded.generated} <= set(loaded.kept)
    rows = loaded.index_rows()
    assert sorted(r.sop_uid for r in rows) == sorted(loaded.kept)
    on_disk = sorted(p for p in loaded.root.rglob("*") if p.is_file()
                     and ".incoming" not in p.parts and "palettes" not in p.parts
                     and not p.name.startswith("index.sqlite"))
    assert on_disk == sorted(loaded.root / r.path for r in rows)
    assert [p for p in (loaded.root / ".incoming").rglob("*") if p.is_file()] == []
    for r in rows:
        ts, _ = dataset_part(loaded.root / r.path)
        original = loaded.datasets[r.sop_uid]
        assert ts == r.transfer_syntax == str(original.file_meta.TransferSyntaxUID), r
        diff = dataset_differences(original, read(loaded.root / r.path),
                                   drop_trailing_padding=True, encapsulated=is_encapsulated(ts))
        assert not diff, (loaded.kept[r.sop_uid], diff)
    mirror = loaded.mirror()
    assert {r.study_uid for r in rows} == set(mirror.studies)
    assert Counter(r.series_uid for r in rows) == sum(
        (st.series for st in mirror.studies.values()), Counter())


# ------------------------------------------------------------------ findscu
def keys(**values: str) -> list[str]:
    out = []
    for k, v in values.items():
        out += ["-k", f"{k}={v}"]
    return out


def findscu(loaded: Loaded, out: Path, model: str, **values: str) -> list[Dataset]:
    """findscu writing each response to ``out`` (-X); the responses in order."""
    out.mkdir()
    res = scu("findscu", loaded.port, model, "-X", "-od", out, *keys(**values))
    assert res.returncode == 0, str(res)
    assert final_status_lines(log_of(res), "Find") == ["Success"], str(res)
    found = [read(p) for p in sorted(out.glob("rsp*.dcm"))]
    assert log_of(res).count("Writing response dataset to file") == len(found), str(res)
    return found


def test_findscu_study_root_study_level(loaded: Loaded, tmp_path: Path) -> None:
    """findscu -S, STUDY level, PatientName=*: every study stored, the values
    of the generated ones as generated, the counts as stored."""
    found = findscu(loaded, tmp_path / "all", "-S", QueryRetrieveLevel="STUDY",
                    PatientName="*", PatientID="", StudyInstanceUID="", StudyDate="",
                    AccessionNumber="", ModalitiesInStudy="", NumberOfStudyRelatedSeries="",
                    NumberOfStudyRelatedInstances="")
    by_uid = {str(d.StudyInstanceUID): d for d in found}
    assert len(by_uid) == len(found)
    mirror = loaded.mirror()
    assert set(by_uid) == set(mirror.studies)
    for uid, st in mirror.studies.items():
        d = by_uid[uid]
        assert int(d.NumberOfStudyRelatedInstances) == sum(st.series.values()), uid
        assert int(d.NumberOfStudyRelatedSeries) == len(st.series), uid
        assert sorted(_values(d.ModalitiesInStudy)) == sorted(st.modalities), uid
        assert d.QueryRetrieveLevel == "STUDY"
    for uid, recs in loaded.gen_studies().items():
        d, first = by_uid[uid], recs[0]
        assert (str(d.PatientName), d.PatientID, d.StudyDate, d.AccessionNumber) == (
            first["PatientName"], first["PatientID"], first["StudyDate"],
            first["AccessionNumber"])
        assert sorted(_values(d.ModalitiesInStudy)) == sorted({r["Modality"] for r in recs})


def _values(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else list(value)


def test_findscu_wildcard_and_date_range(loaded: Loaded, tmp_path: Path) -> None:
    """A wild card on Patient ID and Patient Name plus a Study Date range."""
    studies = sorted(loaded.gen_studies().values(), key=lambda recs: recs[0]["StudyDate"])
    assert len(studies) >= 4
    low, high = studies[1][0]["StudyDate"], studies[-2][0]["StudyDate"]
    name = str(studies[len(studies) // 2][0]["PatientName"])
    pattern = name[:2] + "*"
    generated = {recs[0]["StudyInstanceUID"] for recs in studies
                 if fnmatch.fnmatchcase(recs[0]["PatientName"], pattern)
                 and low <= recs[0]["StudyDate"] <= high}
    assert generated
    mirror = loaded.mirror()
    found = findscu(loaded, tmp_path / "q", "-S", QueryRetrieveLevel="STUDY",
                    PatientID=GEN_IDS, PatientName=pattern, StudyDate=f"{low}-{high}",
                    StudyInstanceUID="")
    wanted = mirror.study_matches(patient_id=GEN_IDS, name=pattern, low=low, high=high)
    assert {str(d.StudyInstanceUID) for d in found} == wanted
    assert wanted & set(loaded.gen_studies()) == generated
    for d in found:
        assert d.StudyDate == "" or low <= d.StudyDate <= high
        assert str(d.PatientName) == "" or fnmatch.fnmatchcase(str(d.PatientName), pattern)

    # an open range: everything up to the first study's date
    found = findscu(loaded, tmp_path / "open", "-S", QueryRetrieveLevel="STUDY",
                    PatientID=GEN_IDS, StudyDate=f"-{low}", StudyInstanceUID="")
    wanted = mirror.study_matches(patient_id=GEN_IDS, high=low)
    assert {str(d.StudyInstanceUID) for d in found} == wanted
    assert wanted & set(loaded.gen_studies()) == {
        recs[0]["StudyInstanceUID"] for recs in studies if recs[0]["StudyDate"] <= low}


def test_findscu_modalities_in_study(loaded: Loaded, tmp_path: Path) -> None:
    """ModalitiesInStudy matches a study holding a series of that modality;
    the response lists all of the study's modalities."""
    studies = loaded.gen_studies()
    counts = Counter(m for recs in studies.values() for m in {r["Modality"] for r in recs})
    modality = min(counts, key=lambda m: (counts[m], m))  # the rarest
    found = findscu(loaded, tmp_path / "q", "-S", QueryRetrieveLevel="STUDY",
                    PatientID=GEN_IDS, ModalitiesInStudy=modality, StudyInstanceUID="")
    generated = {uid for uid, recs in studies.items() if any(r["Modality"] == modality
                                                             for r in recs)}
    wanted = loaded.mirror().study_matches(patient_id=GEN_IDS, modality=modality)
    assert {str(d.StudyInstanceUID) for d in found} == wanted
    assert wanted & set(studies) == generated
    for d in found:
        got = _values(d.ModalitiesInStudy)
        assert got == [] or modality in got
        if str(d.StudyInstanceUID) in studies:
            assert sorted(got) == sorted({r["Modality"]
                                          for r in studies[str(d.StudyInstanceUID)]})


def test_findscu_study_root_series_and_image(loaded: Loaded, tmp_path: Path) -> None:
    """SERIES and IMAGE level of the largest generated study."""
    study_uid, recs = max(loaded.gen_studies().items(), key=lambda kv: (len(kv[1]), kv[0]))
    found = findscu(loaded, tmp_path / "series", "-S", QueryRetrieveLevel="SERIES",
                    StudyInstanceUID=study_uid, SeriesInstanceUID="", Modality="",
                    SeriesNumber="", SeriesDescription="", NumberOfSeriesRelatedInstances="")
    expected: dict[str, tuple[str, int, str, int]] = {}
    for r in recs:
        n = expected.get(r["SeriesInstanceUID"], ("", 0, "", 0))[3]
        expected[r["SeriesInstanceUID"]] = (r["Modality"], int(r["SeriesNumber"]),
                                            r["SeriesDescription"], n + 1)
    assert {str(d.SeriesInstanceUID): (d.Modality, int(d.SeriesNumber), d.SeriesDescription,
                                       int(d.NumberOfSeriesRelatedInstances))
            for d in found} == expected
    assert len(found) == len(expected)

    series_uid = max(expected, key=lambda s: (expected[s][3], s))
    found = findscu(loaded, tmp_path / "image", "-S", QueryRetrieveLevel="IMAGE",
                    StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid,
                    SOPInstanceUID="", SOPClassUID="", InstanceNumber="")
    assert sorted((str(d.SOPInstanceUID), str(d.SOPClassUID), int(d.InstanceNumber))
                  for d in found) == sorted(
        (r["SOPInstanceUID"], r["SOPClassUID"], int(r["InstanceNumber"]))
        for r in recs if r["SeriesInstanceUID"] == series_uid)


def test_findscu_patient_root(loaded: Loaded, tmp_path: Path) -> None:
    """findscu -P: PATIENT level of the generated patients, their studies,
    and one image of pydicom's CT_small.dcm found by its UIDs."""
    found = findscu(loaded, tmp_path / "patients", "-P", QueryRetrieveLevel="PATIENT",
                    PatientID=GEN_IDS, PatientName="", PatientBirthDate="", PatientSex="",
                    NumberOfPatientRelatedStudies="", NumberOfPatientRelatedInstances="")
    patients: dict[str, list[dict[str, str]]] = {}
    for r in loaded.generated:
        patients.setdefault(r["PatientID"], []).append(r)
    # Patient ID is the unique key here: an empty one is not "unknown"
    assert Counter(str(d.PatientID) for d in found) == Counter(
        pid for pid, _ in loaded.mirror().patients if fnmatch.fnmatchcase(pid, GEN_IDS))
    assert {d.PatientID: (str(d.PatientName), d.PatientBirthDate, d.PatientSex,
                          int(d.NumberOfPatientRelatedStudies),
                          int(d.NumberOfPatientRelatedInstances))
            for d in found if d.PatientID in patients} == {
        pid: (recs[0]["PatientName"], recs[0]["PatientBirthDate"], recs[0]["PatientSex"],
              len({r["StudyInstanceUID"] for r in recs}), len(recs))
        for pid, recs in patients.items()}

    pid = sorted(patients)[0]
    found = findscu(loaded, tmp_path / "studies", "-P", QueryRetrieveLevel="STUDY",
                    PatientID=pid, StudyInstanceUID="", StudyDescription="")
    assert sorted((str(d.StudyInstanceUID), d.StudyDescription) for d in found) == sorted(
        {(r["StudyInstanceUID"], r["StudyDescription"]) for r in patients[pid]})

    ct = next(ds for ds in loaded.datasets.values()
              if str(ds.SOPInstanceUID) == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
    found = findscu(loaded, tmp_path / "image", "-P", QueryRetrieveLevel="IMAGE",
                    PatientID=str(ct.PatientID), StudyInstanceUID=str(ct.StudyInstanceUID),
                    SeriesInstanceUID=str(ct.SeriesInstanceUID), SOPInstanceUID="",
                    SOPClassUID="", InstanceNumber="", Rows="", Columns="")
    assert [(str(d.SOPInstanceUID), str(d.SOPClassUID), int(d.InstanceNumber), d.Rows,
             d.Columns) for d in found] == [
        (str(ct.SOPInstanceUID), str(ct.SOPClassUID), int(ct.InstanceNumber), ct.Rows,
         ct.Columns)]


# ------------------------------------------------------------------ getscu / movescu
def received_parts(folder: Path) -> dict[str, tuple[str, bytes]]:
    """SOP Instance UID -> (transfer syntax, dataset bytes) of DCMTK's files."""
    return {str(read(p, stop_before_pixels=True).SOPInstanceUID): dataset_part(p)
            for p in folder.iterdir() if p.is_file()}


def assert_as_stored(loaded: Loaded, received: dict[str, tuple[str, bytes]],
                     uids_wanted: set[str]) -> None:
    """What a peer received is, instance by instance, the stored file's
    dataset bytes in the stored transfer syntax."""
    assert set(received) == uids_wanted
    stored = loaded.stored()
    for uid, (ts, data) in received.items():
        stored_ts, stored_data = dataset_part(stored[uid])
        assert ts == stored_ts, uid
        assert data == stored_data, uid


def dimse_statuses(log: str) -> list[int]:
    """The statuses of the responses DCMTK received (-d)."""
    return [int(v, 16) for v in re.findall(r"DIMSE Status\s*:\s*0x([0-9a-fA-F]{4})", log)]


def completed(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"Number of Completed Suboperations\s*:\s*(\d+)", log)]


def test_getscu_study_byte_identical(loaded: Loaded, tmp_path: Path) -> None:
    """getscu -S of the largest generated study (several series, SOP
    classes): each instance arrives as stored, byte for byte."""
    study_uid, recs = max(loaded.gen_studies().items(), key=lambda kv: (len(kv[1]), kv[0]))
    out = tmp_path / "got"
    out.mkdir()
    res = scu("getscu", loaded.port, "-S", "+B", "-od", out,
              *keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid))
    assert res.returncode == 0, str(res)
    log = log_of(res)
    assert "Received C-GET Response (Success)" in log, str(res)
    assert completed(log)[-1:] == [len(recs)], str(res)
    assert_as_stored(loaded, received_parts(out), {r["SOPInstanceUID"] for r in recs})


def _series(loaded: Loaded) -> dict[str, list[Any]]:
    """Index rows by series, for series with Study and Series UIDs (some of
    pydicom's files have none)."""
    out: dict[str, list[Any]] = {}
    for r in loaded.index_rows():
        if r.series_uid and r.study_uid:
            out.setdefault(r.series_uid, []).append(r)
    return out


def test_getscu_series_byte_identical(loaded: Loaded, tmp_path: Path) -> None:
    """getscu -S of pydicom's largest series stored in Explicit VR Little
    Endian: each instance as stored, byte for byte."""
    prefix = generated_prefix(loaded)
    series_uid, rows = min(
        ((uid, rows) for uid, rows in _series(loaded).items()
         if {r.transfer_syntax for r in rows} == {ExplicitVRLittleEndian}
         and not rows[0].sop_uid.startswith(prefix)),
        key=lambda kv: (-len(kv[1]), kv[0]))
    out = tmp_path / "got"
    out.mkdir()
    res = scu("getscu", loaded.port, "-S", "+B", "-od", out,
              *keys(QueryRetrieveLevel="SERIES", StudyInstanceUID=rows[0].study_uid,
                    SeriesInstanceUID=series_uid))
    assert res.returncode == 0, str(res)
    assert "Received C-GET Response (Success)" in log_of(res), str(res)
    assert completed(log_of(res))[-1:] == [len(rows)], str(res)
    assert_as_stored(loaded, received_parts(out), {r.sop_uid for r in rows})


def _same_pixels(received: Path | Dataset, stored: Path) -> None:
    import numpy as np

    got = received if isinstance(received, Dataset) else read(received)
    kept = read(stored)
    assert str(got.SOPInstanceUID) == str(kept.SOPInstanceUID)
    assert (got.Rows, got.Columns) == (kept.Rows, kept.Columns)
    assert np.array_equal(got.pixel_array, kept.pixel_array)


def test_getscu_jpeg_series(loaded: Loaded, tmp_path: Path) -> None:
    """getscu +xy (JPEG Baseline preferred, uncompressed too, on one
    context per SOP class) of a series stored in JPEG Baseline: the
    archive picks the syntax (its preference: uncompressed, which it can
    send whatever an instance is stored in); each instance arrives as
    stored, or decompressed with the stored image's pixels."""
    series_uid, rows = min(
        ((uid, rows) for uid, rows in _series(loaded).items()
         if {r.transfer_syntax for r in rows} == {JPEG_BASELINE}),
        key=lambda kv: (-len(kv[1]), kv[0]))
    out = tmp_path / "got"
    out.mkdir()
    res = scu("getscu", loaded.port, "-S", "+B", "+xy", "-od", out,
              *keys(QueryRetrieveLevel="SERIES", StudyInstanceUID=rows[0].study_uid,
                    SeriesInstanceUID=series_uid))
    assert res.returncode == 0, str(res)
    assert "Received C-GET Response (Success)" in log_of(res), str(res)
    assert completed(log_of(res))[-1:] == [len(rows)], str(res)
    received = {str(read(p, stop_before_pixels=True).SOPInstanceUID): p
                for p in out.iterdir()}
    assert set(received) == {r.sop_uid for r in rows}
    for r in rows:
        ts, data = dataset_part(received[r.sop_uid])
        if ts == JPEG_BASELINE:
            assert data == dataset_part(loaded.root / r.path)[1]
        else:
            assert ts == ExplicitVRLittleEndian
            _same_pixels(received[r.sop_uid], loaded.root / r.path)


def test_movescu_to_storescp_and_unknown_destination(loaded: Loaded) -> None:
    """movescu -aem STORESCP of pydicom's largest study (several transfer
    syntaxes): storescp (+xa +B) gets every instance as stored; an unknown
    destination is refused with 0xA801 (Move Destination Unknown)."""
    rows = [r for r in loaded.index_rows() if r.sop_uid in loaded.kept
            and not r.sop_uid.startswith(generated_prefix(loaded))]
    per_study = Counter(r.study_uid for r in rows)
    study_uid = max(per_study, key=lambda s: (per_study[s], s))
    wanted = {r.sop_uid for r in rows if r.study_uid == study_uid}
    assert len(wanted) >= 3
    before = set(loaded.storescp_dir.iterdir())
    res = scu("movescu", loaded.port, "-S", "-d", "-aem", STORESCP_AE,
              *keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid))
    assert res.returncode == 0, str(res)
    log = log_of(res)
    # -d: every response in full, the final one's status and counts last
    assert dimse_statuses(log)[-1] == status.SUCCESS, str(res)
    assert re.findall(r"Completed Suboperations\s*:\s*(\d+)", log)[-1] == str(len(wanted))
    assert re.findall(r"Failed Suboperations\s*:\s*(\d+)", log)[-1] == "0"
    new = [p for p in loaded.storescp_dir.iterdir() if p not in before]
    assert len(new) == len(wanted)
    received = {str(read(p, stop_before_pixels=True).SOPInstanceUID): dataset_part(p)
                for p in new}
    assert_as_stored(loaded, received, wanted)

    res = scu("movescu", loaded.port, "-S", "-d", "-aem", "NOWHERE",
              *keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid))
    assert dimse_statuses(log_of(res)) == [status.MOVE_DESTINATION_UNKNOWN] == [0xA801], \
        str(res)
    assert set(loaded.storescp_dir.iterdir()) == before | set(new)


def generated_prefix(loaded: Loaded) -> str:
    """The UID prefix of the generated instances."""
    first = loaded.generated[0]["SOPInstanceUID"]
    return first[: first.rindex(".3.") + 1]


# ------------------------------------------------------------------ pynetdicom
def associate(loaded: Loaded, contexts: Sequence[tuple[str, Sequence[str]]],
              roles: Sequence[str] = (), handlers: Sequence[Any] = ()) -> Any:
    ae = AE(ae_title="PYNSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    for sop_class, syntaxes in contexts:
        ae.add_requested_context(sop_class, list(syntaxes))
    assoc = ae.associate("127.0.0.1", loaded.port, ae_title=ARCHIVE_AE,
                         ext_neg=[build_role(c, scp_role=True) for c in roles],
                         evt_handlers=list(handlers))
    assert assoc.is_established
    return assoc


def query(**values: Any) -> Dataset:
    ds = Dataset()
    for k, v in values.items():
        setattr(ds, k, v)
    return ds


def pyn_find(assoc: Any, identifier: Dataset, model: str) -> list[Dataset]:
    matches = []
    statuses = []
    for st, ident in assoc.send_c_find(identifier, model):
        assert st is not None and "Status" in st, "no response"
        statuses.append(int(st.Status))
        if st.Status in (0xFF00, 0xFF01):
            matches.append(ident)
    assert statuses[-1] == status.SUCCESS, hex(statuses[-1])
    assert set(statuses[:-1]) <= {0xFF00, 0xFF01}
    return matches


def test_pynetdicom_find_study_and_patient_root(loaded: Loaded) -> None:
    studies = loaded.gen_studies()
    assoc = associate(loaded, [(uids.STUDY_ROOT_QR_FIND, [ExplicitVRLittleEndian]),
                               (uids.PATIENT_ROOT_QR_FIND, [ExplicitVRLittleEndian])])
    try:
        found = pyn_find(assoc, query(QueryRetrieveLevel="STUDY", PatientID=GEN_IDS,
                                      PatientName="", StudyInstanceUID="", StudyDate="",
                                      NumberOfStudyRelatedInstances=""),
                         uids.STUDY_ROOT_QR_FIND)
        assert {str(d.StudyInstanceUID) for d in found} == loaded.mirror().study_matches(
            patient_id=GEN_IDS)
        assert {str(d.StudyInstanceUID): (str(d.PatientName), d.StudyDate,
                                          int(d.NumberOfStudyRelatedInstances))
                for d in found if str(d.StudyInstanceUID) in studies} == {
            uid: (recs[0]["PatientName"], recs[0]["StudyDate"], len(recs))
            for uid, recs in studies.items()}

        rec = loaded.generated[-1]
        found = pyn_find(assoc, query(QueryRetrieveLevel="IMAGE", PatientID=rec["PatientID"],
                                      StudyInstanceUID=rec["StudyInstanceUID"],
                                      SeriesInstanceUID=rec["SeriesInstanceUID"],
                                      SOPInstanceUID="", InstanceNumber=""),
                         uids.PATIENT_ROOT_QR_FIND)
        assert sorted((str(d.SOPInstanceUID), int(d.InstanceNumber)) for d in found) == sorted(
            (r["SOPInstanceUID"], int(r["InstanceNumber"])) for r in loaded.generated
            if r["SeriesInstanceUID"] == rec["SeriesInstanceUID"])
    finally:
        assoc.release()


def _retrieve_final(responses: Any) -> Dataset:
    last: Dataset | None = None
    for st, _ in responses:
        assert st is not None and "Status" in st, "no response"
        last = st
    assert last is not None
    return last


def test_pynetdicom_get_study(loaded: Loaded) -> None:
    """C-GET of a generated study with storage SCP role contexts: every
    instance arrives on the association, byte for byte as stored."""
    study_uid, recs = min(loaded.gen_studies().items(), key=lambda kv: (-len(kv[1]), kv[0]))
    classes = sorted({r["SOPClassUID"] for r in recs})
    got: list[tuple[str, str, bytes]] = []

    def on_store(event: Any) -> int:
        got.append((str(event.request.AffectedSOPInstanceUID),
                    str(event.context.transfer_syntax),
                    event.encoded_dataset(include_meta=False)))
        return 0

    assoc = associate(loaded, [(uids.STUDY_ROOT_QR_GET, [ExplicitVRLittleEndian]),
                               *((c, [ExplicitVRLittleEndian]) for c in classes)],
                      roles=classes, handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        final = _retrieve_final(assoc.send_c_get(
            query(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid),
            uids.STUDY_ROOT_QR_GET))
    finally:
        assoc.release()
    assert final.Status == status.SUCCESS
    assert (final.NumberOfCompletedSuboperations, final.get("NumberOfFailedSuboperations", 0),
            final.get("NumberOfWarningSuboperations", 0)) == (len(recs), 0, 0)
    assert len(got) == len(recs)
    assert_as_stored(loaded, {uid: (ts, data) for uid, ts, data in got},
                     {r["SOPInstanceUID"] for r in recs})


def test_pynetdicom_move_and_unknown_destination(loaded: Loaded) -> None:
    """Patient Root C-MOVE of a generated patient to pynetdicom's storage SCP;
    then to an unknown AE: 0xA801."""
    pid = sorted({r["PatientID"] for r in loaded.generated})[-1]
    wanted = {r["SOPInstanceUID"] for r in loaded.generated if r["PatientID"] == pid}
    loaded.pyn_dest.take()
    assoc = associate(loaded, [(uids.PATIENT_ROOT_QR_MOVE, [ExplicitVRLittleEndian])])
    try:
        final = _retrieve_final(assoc.send_c_move(
            query(QueryRetrieveLevel="PATIENT", PatientID=pid), PYN_DEST_AE,
            uids.PATIENT_ROOT_QR_MOVE))
        unknown = _retrieve_final(assoc.send_c_move(
            query(QueryRetrieveLevel="PATIENT", PatientID=pid), "NOBODY",
            uids.PATIENT_ROOT_QR_MOVE))
    finally:
        assoc.release()
    assert final.Status == status.SUCCESS
    assert final.NumberOfCompletedSuboperations == len(wanted)
    got = loaded.pyn_dest.take()
    assert len(got) == len(wanted)
    assert_as_stored(loaded, {uid: (ts, data) for uid, ts, data in got}, wanted)
    assert unknown.Status == status.MOVE_DESTINATION_UNKNOWN == 0xA801


def test_pynetdicom_get_jpeg(loaded: Loaded) -> None:
    """C-GET of a JPEG Baseline instance.  A requester that accepts only
    Explicit VR Little Endian for its SOP class: the archive decompresses
    it (the pixels are the stored JPEG's, decoded).  One that proposes the
    JPEG syntax alone on a context of its own: the stored bytes."""
    import io

    from pydicom import dcmread

    rows = [r for r in loaded.index_rows() if r.transfer_syntax == JPEG_BASELINE]
    assert rows, "no JPEG Baseline instance stored"
    row = min(rows, key=lambda r: r.sop_uid)
    identifier = query(QueryRetrieveLevel="IMAGE", StudyInstanceUID=row.study_uid,
                       SeriesInstanceUID=row.series_uid, SOPInstanceUID=row.sop_uid)
    got: list[tuple[str, bytes]] = []

    def on_store(event: Any) -> int:
        got.append((str(event.context.transfer_syntax), event.encoded_dataset(include_meta=True)))
        return 0

    sop_class = str(row.sop_class)
    proposals: list[list[list[str]]] = [[[ExplicitVRLittleEndian]],
                                        [[JPEG_BASELINE], [ExplicitVRLittleEndian]]]
    for syntaxes in proposals:
        got.clear()
        assoc = associate(loaded, [(uids.STUDY_ROOT_QR_GET, [ExplicitVRLittleEndian]),
                                   *((sop_class, ts) for ts in syntaxes)],
                          roles=[row.sop_class], handlers=[(evt.EVT_C_STORE, on_store)])
        try:
            final = _retrieve_final(assoc.send_c_get(identifier, uids.STUDY_ROOT_QR_GET))
        finally:
            assoc.release()
        assert final.Status == status.SUCCESS, final
        assert final.NumberOfCompletedSuboperations == 1
        ((ts, blob),) = got
        received = dcmread(io.BytesIO(blob))
        if len(syntaxes) == 1:
            assert ts == ExplicitVRLittleEndian
            assert received.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
            assert len(received.PixelData) >= (
                received.Rows * received.Columns * received.SamplesPerPixel)
            _same_pixels(received, loaded.root / row.path)
        else:
            assert ts == JPEG_BASELINE
            stored_ts, stored_data = dataset_part(loaded.root / row.path)
            assert blob.endswith(stored_data) and stored_ts == ts
