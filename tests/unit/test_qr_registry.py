"""The 21 Query/Retrieve SOP classes of the seeds (uids.py, Q/R section).

The expected table is typed from the seeds (UIDs) and PS3.4 (service and
model), independently of :mod:`dicomqr.uids`.
"""

from __future__ import annotations

import dataclasses

import pytest
from pydicom._uid_dict import UID_dictionary

from dicomqr import uids
from dicomqr.uids import QR_SOP_CLASSES, QRModel, QRService, qr_sop_class, qr_sop_classes

FIND, GET, MOVE = "FIND", "GET", "MOVE"
PR, SR, PSO = QRModel.PATIENT_ROOT, QRModel.STUDY_ROOT, QRModel.PATIENT_STUDY_ONLY
CIR, WBD = QRModel.COMPOSITE_INSTANCE_ROOT, QRModel.WITHOUT_BULK_DATA
DPP, PA, CP = (QRModel.DEFINED_PROCEDURE_PROTOCOL, QRModel.PROTOCOL_APPROVAL,
               QRModel.COLOR_PALETTE)

# uid, service, model, retired (PS3.6)
EXPECTED = [
    ("1.2.840.10008.5.1.4.1.2.1.1", FIND, PR, False),
    ("1.2.840.10008.5.1.4.1.2.1.2", MOVE, PR, False),
    ("1.2.840.10008.5.1.4.1.2.1.3", GET, PR, False),
    ("1.2.840.10008.5.1.4.1.2.2.1", FIND, SR, False),
    ("1.2.840.10008.5.1.4.1.2.2.2", MOVE, SR, False),
    ("1.2.840.10008.5.1.4.1.2.2.3", GET, SR, False),
    ("1.2.840.10008.5.1.4.1.2.3.1", FIND, PSO, True),
    ("1.2.840.10008.5.1.4.1.2.3.2", MOVE, PSO, True),
    ("1.2.840.10008.5.1.4.1.2.3.3", GET, PSO, True),
    ("1.2.840.10008.5.1.4.1.2.4.2", MOVE, CIR, False),
    ("1.2.840.10008.5.1.4.1.2.4.3", GET, CIR, False),
    ("1.2.840.10008.5.1.4.1.2.5.3", GET, WBD, False),
    ("1.2.840.10008.5.1.4.20.1", FIND, DPP, False),
    ("1.2.840.10008.5.1.4.20.2", MOVE, DPP, False),
    ("1.2.840.10008.5.1.4.20.3", GET, DPP, False),
    ("1.2.840.10008.5.1.4.1.1.200.4", FIND, PA, False),
    ("1.2.840.10008.5.1.4.1.1.200.5", MOVE, PA, False),
    ("1.2.840.10008.5.1.4.1.1.200.6", GET, PA, False),
    ("1.2.840.10008.5.1.4.39.2", FIND, CP, False),
    ("1.2.840.10008.5.1.4.39.3", MOVE, CP, False),
    ("1.2.840.10008.5.1.4.39.4", GET, CP, False),
]


def test_exactly_the_21_of_the_seeds() -> None:
    assert len(EXPECTED) == 21
    assert len(QR_SOP_CLASSES) == 21
    assert list(QR_SOP_CLASSES) == [row[0] for row in EXPECTED]


@pytest.mark.parametrize(("uid", "service", "model", "retired"), EXPECTED)
def test_each_sop_class(uid: str, service: str, model: QRModel, retired: bool) -> None:
    row = qr_sop_class(uid)
    assert row is not None
    assert row is QR_SOP_CLASSES[uid]
    assert row.uid == uid
    assert row.service is QRService(service)
    assert row.service == service  # a StrEnum
    assert row.dimse == f"C-{service}"
    assert row.model is model
    assert row.retired is retired


@pytest.mark.parametrize("uid", [row[0] for row in EXPECTED])
def test_agrees_with_pydicom(uid: str) -> None:
    name, kind, _info, retired, keyword = UID_dictionary[uid]
    row = QR_SOP_CLASSES[uid]
    assert kind == "SOP Class"
    assert row.name == name
    assert row.keyword == keyword
    assert row.retired is (retired == "Retired")
    assert uids.name_of(uid) == row.name
    assert uids.short_name_of(uid) == row.keyword


def test_no_duplicates() -> None:
    rows = list(QR_SOP_CLASSES.values())
    for field in ("uid", "name", "keyword"):
        values = [getattr(row, field) for row in rows]
        assert len(values) == len(set(values)), field
    pairs = [(row.service, row.model) for row in rows]
    assert len(pairs) == len(set(pairs))


def test_none_is_a_storage_sop_class() -> None:
    for uid in QR_SOP_CLASSES:
        assert not uids.is_storage_sop_class(uid)


def test_constants() -> None:
    assert uids.PATIENT_ROOT_QR_FIND == "1.2.840.10008.5.1.4.1.2.1.1"
    assert uids.STUDY_ROOT_QR_MOVE == "1.2.840.10008.5.1.4.1.2.2.2"
    assert uids.PATIENT_STUDY_ONLY_QR_GET == "1.2.840.10008.5.1.4.1.2.3.3"
    assert uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET == "1.2.840.10008.5.1.4.1.2.4.3"
    assert uids.COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET == "1.2.840.10008.5.1.4.1.2.5.3"
    assert uids.DEFINED_PROCEDURE_PROTOCOL_FIND == "1.2.840.10008.5.1.4.20.1"
    assert uids.PROTOCOL_APPROVAL_MOVE == "1.2.840.10008.5.1.4.1.1.200.5"
    assert uids.COLOR_PALETTE_GET == "1.2.840.10008.5.1.4.39.4"


def test_unknown_uid() -> None:
    assert qr_sop_class("1.2.840.10008.5.1.4.31") is None  # Modality Worklist
    assert qr_sop_class("1.2.840.10008.5.1.4.38.2") is None  # Hanging Protocol FIND
    assert qr_sop_class("") is None


@pytest.mark.parametrize(("service", "count"), [(FIND, 6), (MOVE, 7), (GET, 8)])
def test_by_service(service: str, count: int) -> None:
    expected = [row[0] for row in EXPECTED if row[1] == service]
    assert len(expected) == count
    for spelling in (QRService(service), service, service.lower(), f"C-{service}"):
        assert [row.uid for row in qr_sop_classes(spelling)] == expected


@pytest.mark.parametrize(("model", "count"), [
    (PR, 3), (SR, 3), (PSO, 3), (CIR, 2), (WBD, 1), (DPP, 3), (PA, 3), (CP, 3),
])
def test_by_model(model: QRModel, count: int) -> None:
    assert [row.uid for row in qr_sop_classes(model=model)] == [
        row[0] for row in EXPECTED if row[2] is model]
    assert len(qr_sop_classes(model=model)) == count


def test_by_service_and_models() -> None:
    got = qr_sop_classes(GET, model=[CIR, WBD])
    assert [row.uid for row in got] == ["1.2.840.10008.5.1.4.1.2.4.3",
                                        "1.2.840.10008.5.1.4.1.2.5.3"]
    assert qr_sop_classes(FIND, model=CIR) == ()
    assert len(qr_sop_classes()) == 21


def test_unknown_service_name() -> None:
    with pytest.raises(ValueError):
        qr_sop_classes("STORE")


def test_models() -> None:
    annex = {PR: "C.6.1", SR: "C.6.2", PSO: "C.6.3", CIR: "Y", WBD: "Z", DPP: "HH",
             PA: "II", CP: "X"}
    for model in QRModel:
        assert model.annex == annex[model]
    for model in (PR, SR, PSO, CIR, WBD):
        assert model.service_class == "Query/Retrieve"
    assert DPP.service_class == "Defined Procedure Protocol Query/Retrieve"
    assert PA.service_class == "Protocol Approval Query/Retrieve"
    assert CP.service_class == "Color Palette Query/Retrieve"


def test_frozen() -> None:
    row = QR_SOP_CLASSES[uids.STUDY_ROOT_QR_FIND]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.uid = "1.2.3"  # type: ignore[misc]
    with pytest.raises(TypeError):
        QR_SOP_CLASSES["1.2.3"] = row  # type: ignore[index]
