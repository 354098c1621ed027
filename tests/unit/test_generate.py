"""The synthetic archive generator: deterministic, valid, and what it writes
is what :func:`to_dataset` says."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import UID

from dicomqr.archive.generate import (
    CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE,
    INSTANCE_KEYWORDS,
    PROTOCOL_APPROVAL_STORAGE,
    SOP_CLASS_BY_MODALITY,
    XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE,
    GenerateSpec,
    iter_instances,
    parse_span,
    to_dataset,
    write_archive,
    write_files,
)
from dicomqr.archive.protocols import protocol_objects
from dicomqr.cli.main import main
from dicomqr.query.models import DEFINED_PROCEDURE_PROTOCOL, PROTOCOL_APPROVAL, KeyKind
from dicomqr.services.part10 import read_file_meta

SMALL = GenerateSpec(seed=7, patients=6, studies=(1, 3), series=(1, 3), instances=(1, 4),
                     rows=16, cols=12, protocols=6)


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.dcm"))}


# -- the records --------------------------------------------------------------------------

def test_same_spec_same_records() -> None:
    assert list(iter_instances(SMALL)) == list(iter_instances(SMALL))


def test_another_seed_other_records() -> None:
    other = GenerateSpec(seed=8, patients=6, studies=(1, 3), series=(1, 3), instances=(1, 4),
                         rows=16, cols=12)
    mine = {a["SOPInstanceUID"] for a in iter_instances(SMALL)}
    theirs = {a["SOPInstanceUID"] for a in iter_instances(other)}
    assert not mine & theirs


def test_more_patients_keep_the_first_ones() -> None:
    more = GenerateSpec(seed=7, patients=12, studies=(1, 3), series=(1, 3), instances=(1, 4),
                        rows=16, cols=12)
    first = list(iter_instances(SMALL))
    assert list(iter_instances(more))[:len(first)] == first


def test_fixed_counts() -> None:
    spec = GenerateSpec(seed=1, patients=5, studies=(2, 2), series=(3, 3), instances=(4, 4))
    records = list(iter_instances(spec))
    assert len(records) == 5 * 2 * 3 * 4
    assert len({a["PatientID"] for a in records}) == 5
    assert len({a["StudyInstanceUID"] for a in records}) == 10
    assert len({a["SeriesInstanceUID"] for a in records}) == 30
    assert Counter(a["SeriesInstanceUID"] for a in records) == Counter(
        {uid: 4 for uid in {a["SeriesInstanceUID"] for a in records}})


def test_ranges_are_respected_and_used() -> None:
    spec = GenerateSpec(seed=3, patients=40, studies=(1, 3), series=(2, 4), instances=(1, 5))
    records = list(iter_instances(spec))
    studies = Counter(a["PatientID"] for a in {(a["PatientID"], a["StudyInstanceUID"]): a
                                                for a in records}.values())
    series = Counter(a["StudyInstanceUID"] for a in {a["SeriesInstanceUID"]: a
                                                     for a in records}.values())
    instances = Counter(a["SeriesInstanceUID"] for a in records)
    assert set(studies.values()) == {1, 2, 3}
    assert set(series.values()) == {2, 3, 4}
    assert set(instances.values()) == {1, 2, 3, 4, 5}


def test_records_hold_valid_varied_values() -> None:
    spec = GenerateSpec(seed=11, patients=200, studies=(1, 2), series=(1, 3), instances=(1, 2),
                        start_date=date(2010, 3, 1), end_date=date(2011, 2, 28))
    records = list(iter_instances(spec))
    for a in records:
        assert tuple(sorted(a)) == tuple(sorted(INSTANCE_KEYWORDS))
        assert "20100301" <= a["StudyDate"] <= "20110228"
        assert a["PatientBirthDate"] <= a["StudyDate"]
        assert len(a["StudyTime"]) == 6 and a["StudyTime"].isdigit()
        assert a["PatientSex"] in ("M", "F", "O")
        assert a["SOPClassUID"] == SOP_CLASS_BY_MODALITY[a["Modality"]]
        assert a["TransferSyntaxUID"] == pydicom.uid.ExplicitVRLittleEndian
        assert "^" in a["PatientName"]
        assert len(a["AccessionNumber"]) <= 16 and len(a["StudyID"]) <= 16
        assert a["SeriesNumber"].isdigit() and a["InstanceNumber"].isdigit()
    modalities = {a["Modality"] for a in records}
    assert modalities == set(SOP_CLASS_BY_MODALITY)
    assert len({a["PatientName"] for a in records}) > 100
    assert len({a["StudyDescription"] for a in records}) > 5
    assert any(a["SpecificCharacterSet"] == "ISO_IR 192" for a in records)
    assert sum(a["SpecificCharacterSet"] == "" for a in records) > len(records) / 2


def test_uids_are_valid_and_unique() -> None:
    spec = GenerateSpec(seed=999_999_999_999, patients=30, studies=(1, 999), series=(1, 1),
                        instances=(1, 1))
    records = list(iter_instances(spec))
    for a in records:
        for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            assert UID(a[key]).is_valid, a[key]
    assert len({a["SOPInstanceUID"] for a in records}) == len(records)
    assert len({a["StudyInstanceUID"] for a in records}) == len(records)
    uids = {a["SOPInstanceUID"] for a in records} | {a["SeriesInstanceUID"] for a in records}
    assert len(uids) == 2 * len(records)


def test_counts_that_do_not_fit_in_a_uid_are_refused() -> None:
    with pytest.raises(ValueError, match="64-character"):
        GenerateSpec(patients=10**9, studies=(1, 10**6), series=(1, 10**6),
                     instances=(1, 10**6))


@pytest.mark.parametrize("bad", [
    {"studies": (0, 1)}, {"series": (3, 2)}, {"rows": 0}, {"patients": -1},
    {"start_date": date(2020, 1, 2), "end_date": date(2020, 1, 1)}, {"non_ascii": 2.0},
])
def test_bad_spec(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GenerateSpec(**bad)  # type: ignore[arg-type]


def test_parse_span() -> None:
    assert parse_span("3") == (3, 3)
    assert parse_span("2-5") == (2, 5)
    for bad in ("", "0", "5-2", "a-b", "1-"):
        with pytest.raises(ValueError):
            parse_span(bad)


# -- the files ----------------------------------------------------------------------------

def test_files_read_back_equal_to_dataset(tmp_path: Path) -> None:
    stats = write_archive(SMALL, tmp_path)
    records = list(iter_instances(SMALL))
    assert stats.instances == len(records) and stats.protocols == SMALL.protocols
    assert stats.files == len(records) + SMALL.protocols
    assert stats.patients == SMALL.patients
    assert stats.studies == len({a["StudyInstanceUID"] for a in records})
    assert stats.series == len({a["SeriesInstanceUID"] for a in records})
    files = sorted(tmp_path.rglob("*.dcm"))
    assert len(files) == stats.files
    assert stats.bytes == sum(p.stat().st_size for p in files)
    for a in records:
        s, se, n = a["SOPInstanceUID"].split(".")[-3:]
        path = tmp_path / a["PatientID"] / f"{int(s):03d}" / f"{int(se):03d}" / f"{int(n):05d}.dcm"
        got = pydicom.dcmread(path)
        want = to_dataset(a, SMALL)
        assert got == want
        assert got.pixel_array.shape == (SMALL.rows, SMALL.cols)
        for keyword in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID",
                        "TransferSyntaxUID", "ImplementationClassUID",
                        "ImplementationVersionName"):
            assert got.file_meta[keyword].value == want.file_meta[keyword].value
        meta = read_file_meta(path.read_bytes())
        assert (meta.sop_class_uid, meta.sop_instance_uid) == (a["SOPClassUID"],
                                                              a["SOPInstanceUID"])


def test_to_dataset_writes_like_write_archive(tmp_path: Path) -> None:
    """pydicom writing to_dataset() gives the same dataset as the fast writer."""
    write_archive(SMALL, tmp_path / "fast", flat=True)
    for a in list(iter_instances(SMALL))[:5]:
        path = tmp_path / f"{a['SOPInstanceUID']}.dcm"
        pydicom.dcmwrite(path, to_dataset(a, SMALL), enforce_file_format=True)
        fast = (tmp_path / "fast" / path.name).read_bytes()
        mine = path.read_bytes()
        offset = read_file_meta(fast).dataset_offset
        assert mine[read_file_meta(mine).dataset_offset:] == fast[offset:]


def test_writing_twice_gives_the_same_files(tmp_path: Path) -> None:
    assert write_files(SMALL, tmp_path / "a") == write_files(SMALL, tmp_path / "b")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_flat_layout(tmp_path: Path) -> None:
    count = write_files(SMALL, tmp_path, flat=True)
    names = {p.name for p in tmp_path.glob("*.dcm")}
    assert names == {f"{a['SOPInstanceUID']}.dcm" for a in iter_instances(SMALL)}
    assert count == len(names) + SMALL.protocols


def test_non_ascii_names_survive_with_their_character_set(tmp_path: Path) -> None:
    spec = GenerateSpec(seed=5, patients=30, studies=(1, 1), series=(1, 1), instances=(1, 1),
                        non_ascii=1.0)
    write_archive(spec, tmp_path, flat=True)
    names = set()
    for a in iter_instances(spec):
        assert a["SpecificCharacterSet"] == "ISO_IR 192"
        raw = (tmp_path / f"{a['SOPInstanceUID']}.dcm").read_bytes()
        assert a["PatientName"].encode("utf-8") in raw
        ds = pydicom.dcmread(tmp_path / f"{a['SOPInstanceUID']}.dcm")
        assert ds.SpecificCharacterSet == "ISO_IR 192"
        assert str(ds.PatientName) == a["PatientName"]
        names.add(a["PatientName"])
        if "=" in a["PatientName"]:  # alphabetic=ideographic[=phonetic] component groups
            assert ds.PatientName.ideographic == a["PatientName"].split("=")[1]
    assert any(not n.isascii() for n in names)
    assert any("=" in n for n in names)


def test_ascii_patients_have_no_character_set(tmp_path: Path) -> None:
    spec = GenerateSpec(seed=5, patients=3, studies=(1, 1), series=(1, 1), instances=(1, 1),
                        non_ascii=0.0)
    write_archive(spec, tmp_path, flat=True)
    for path in tmp_path.glob("*.dcm"):
        assert "SpecificCharacterSet" not in pydicom.dcmread(path)


# -- protocol objects ---------------------------------------------------------------------

def _keys(model: object, kinds: set[KeyKind]) -> list[str]:
    level = model.levels[0]  # type: ignore[attr-defined]
    return [k.keyword for k in level.keys if k.kind in kinds]


#: DPP keys the generator fills only in some objects: clinical-trial ones
#: (one in three) and predecessors (repeats of a template).
_SOMETIMES = {"ClinicalTrialSponsorName", "ClinicalTrialProtocolID", "PredecessorProtocolSequence"}


def test_protocol_objects_have_their_keys() -> None:
    objects = protocol_objects(15, seed=2)
    protocols = [ds for ds in objects if ds.SOPClassUID != PROTOCOL_APPROVAL_STORAGE]
    approvals = [ds for ds in objects if ds.SOPClassUID == PROTOCOL_APPROVAL_STORAGE]
    assert (len(protocols), len(approvals)) == (10, 5)
    assert {ds.SOPClassUID for ds in protocols} == {CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE,
                                                    XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE}
    dpp_keys = _keys(DEFINED_PROCEDURE_PROTOCOL, {KeyKind.UNIQUE, KeyKind.REQUIRED,
                                                  KeyKind.OPTIONAL})
    for keyword in dpp_keys:
        having = [ds for ds in protocols if keyword in ds]
        assert having, keyword
        if keyword not in _SOMETIMES:
            assert len(having) == len(protocols), keyword
    for ds in protocols:
        assert ds.EquipmentModality == ("XA" if ds.SOPClassUID.endswith(".7") else "CT")
        assert ds.ProtocolName
        for item in ds.get("PredecessorProtocolSequence", []):
            assert item.ReferencedSOPInstanceUID in {p.SOPInstanceUID for p in protocols}
    pa_keys = _keys(PROTOCOL_APPROVAL, {KeyKind.UNIQUE, KeyKind.REQUIRED, KeyKind.OPTIONAL})
    by_uid = {ds.SOPInstanceUID: ds for ds in protocols}
    for ds in approvals:
        for keyword in pa_keys:
            assert keyword in ds, keyword
        (subject,) = ds.ApprovalSubjectSequence
        approved = by_uid[subject.ReferencedSOPInstanceUID]
        assert subject.ReferencedSOPClassUID == approved.SOPClassUID
        (approval,) = ds.ApprovalSequence
        (code,) = approval.AssertionCodeSequence
        assert code.CodingSchemeDesignator == "DCM"
        assert UID(approval.AssertionUID).is_valid
        assert approval.AsserterIdentificationSequence[0].ObserverType == "PSN"
        # The conditional attributes of PS3.3 C.34.15 for the assertion made.
        if code.CodeValue == "128604":
            assert approval.ClinicalTrialProtocolID == approved.ClinicalTrialProtocolID
        else:
            assert approval.InstitutionCodeSequence
        assert ds.InstanceCreationDate >= approved.InstanceCreationDate


def test_protocol_objects_are_deterministic_and_valid(tmp_path: Path) -> None:
    first = protocol_objects(9, seed=4)
    assert first == protocol_objects(9, seed=4)
    assert protocol_objects(12, seed=4)[:3] == first[:3]
    assert not ({ds.SOPInstanceUID for ds in first}
                & {ds.SOPInstanceUID for ds in protocol_objects(9, seed=5)})
    assert len({ds.SOPInstanceUID for ds in first}) == 9
    for ds in first:
        assert UID(ds.SOPInstanceUID).is_valid
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        back = pydicom.dcmread(path)
        assert back == ds
        text = [str(e.value) for e in back.iterall() if e.VR in ("PN", "LO", "UT", "UC")]
        if any(not t.isascii() for t in text):
            assert back.SpecificCharacterSet == "ISO_IR 192"


def test_protocol_objects_small_counts() -> None:
    assert protocol_objects(0, seed=1) == []
    (only,) = protocol_objects(1, seed=1)
    assert only.SOPClassUID == CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE
    assert [ds.SOPClassUID for ds in protocol_objects(3, seed=1)][-1] == PROTOCOL_APPROVAL_STORAGE


# -- the command --------------------------------------------------------------------------

def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--patients", "3", "--studies", "1-2", "--series", "2",
            "--instances", "1-3", "--rows", "8", "--cols", "8", "--seed", "42",
            "--start-date", "2019-01-01", "--end-date", "20191231", "--protocols", "3"]
    assert main([*argv[:1], str(tmp_path / "a"), *argv[1:]]) == 0
    out = capsys.readouterr().out
    spec = GenerateSpec(seed=42, patients=3, studies=(1, 2), series=(2, 2), instances=(1, 3),
                        rows=8, cols=8, start_date=date(2019, 1, 1),
                        end_date=date(2019, 12, 31), protocols=3)
    records = list(iter_instances(spec))
    assert f"3 patients, {len({a['StudyInstanceUID'] for a in records})} studies" in out
    assert f"{len(records)} instances, 3 protocol objects" in out
    assert f"{len(records) + 3} files" in out and "MiB" in out
    files = sorted((tmp_path / "a").rglob("*.dcm"))
    assert len(files) == len(records) + 3
    assert all(a["StudyDate"].startswith("2019") for a in records)

    assert main([*argv[:1], str(tmp_path / "b"), *argv[1:]]) == 0
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    # The command writes what the API writes.
    write_archive(spec, tmp_path / "c")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "c")


def test_cli_generate_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["generate", str(tmp_path), "--studies", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["generate", str(tmp_path), "--start-date", "yesterday"])
    capsys.readouterr()
    assert main(["generate", str(tmp_path), "--start-date", "2020-01-02",
                 "--end-date", "2020-01-01"]) == 2
    assert "end_date is before start_date" in capsys.readouterr().err
