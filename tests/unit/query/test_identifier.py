"""The identifier validator, rule by rule and model by model (PS3.4 C.4, Y, Z, X, HH, II).

Every case runs twice: on the Dataset as built, and after a round trip
through Implicit VR Little Endian bytes (what an SCP actually gets).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset

from dicomqr import uids
from dicomqr.errors import DicomqrError
from dicomqr.query import MODELS, InvalidIdentifier, QuerySpec, validate
from dicomqr.uids import QRModel, QRService

# Wild cards, ranges and bad levels are what these tests send on purpose.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

A900, AA04 = 0xA900, 0xAA04
QRL = 0x00080052

PR_FIND, PR_MOVE, PR_GET = uids.PATIENT_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_MOVE, \
    uids.PATIENT_ROOT_QR_GET
SR_FIND, SR_MOVE, SR_GET = uids.STUDY_ROOT_QR_FIND, uids.STUDY_ROOT_QR_MOVE, uids.STUDY_ROOT_QR_GET
PSO_FIND, PSO_MOVE, PSO_GET = uids.PATIENT_STUDY_ONLY_QR_FIND, uids.PATIENT_STUDY_ONLY_QR_MOVE, \
    uids.PATIENT_STUDY_ONLY_QR_GET
CIR_MOVE, CIR_GET = uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_MOVE, \
    uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET
WBD_GET = uids.COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET
DPP_FIND, DPP_MOVE, DPP_GET = uids.DEFINED_PROCEDURE_PROTOCOL_FIND, \
    uids.DEFINED_PROCEDURE_PROTOCOL_MOVE, uids.DEFINED_PROCEDURE_PROTOCOL_GET
PA_FIND, PA_MOVE, PA_GET = uids.PROTOCOL_APPROVAL_FIND, uids.PROTOCOL_APPROVAL_MOVE, \
    uids.PROTOCOL_APPROVAL_GET
CP_FIND, CP_MOVE, CP_GET = uids.COLOR_PALETTE_FIND, uids.COLOR_PALETTE_MOVE, uids.COLOR_PALETTE_GET

PRIVATE_CREATOR, PRIVATE = 0x00090010, 0x00091001


def make(**elements: Any) -> Dataset:
    """A Dataset from keyword=value; None means zero length (SQ: empty sequence)."""
    ds = Dataset()
    for keyword, value in elements.items():
        if keyword == "Private":
            ds.add_new(PRIVATE_CREATOR, "LO", "ACME")
            ds.add_new(PRIVATE, "LO", value)
            continue
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        if value is None:
            value = [] if dictionary_VR(tag) == "SQ" else None
        setattr(ds, keyword, value)
    return ds


def round_trip(ds: Dataset) -> Dataset:
    out = DicomBytesIO()
    out.is_implicit_VR = True
    out.is_little_endian = True
    write_dataset(out, ds)
    return read_dataset(BytesIO(out.getvalue()), True, True)


def tag(keyword: str) -> int:
    t = tag_for_keyword(keyword)
    assert t is not None
    return t


@pytest.fixture(params=["built", "decoded"])
def prepare(request: pytest.FixtureRequest) -> Any:
    return (lambda ds: ds) if request.param == "built" else round_trip


# -- valid identifiers: (SOP class, relational, elements, level, extra keys) ----------
# The expected keys are every element given except the non-key ones (level,
# character set, timezone, view), plus the private creator for "Private".

NOT_KEYS = {"QueryRetrieveLevel", "SpecificCharacterSet", "TimezoneOffsetFromUTC",
            "QueryRetrieveView"}

VALID: list[tuple[str, str, bool, dict[str, Any], str]] = [
    # C.4.1.2.1: top level needs nothing above; wildcards are fine at the level.
    ("pr-find-patient", PR_FIND, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientName": "DOE^*", "PatientID": None}, "PATIENT"),
    ("pr-find-study", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "StudyInstanceUID": None,
      "StudyDate": "20200101-20201231", "ModalitiesInStudy": None}, "STUDY"),
    ("pr-find-series", PR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
      "Modality": "CT", "SeriesInstanceUID": None}, "SERIES"),
    ("pr-find-image", PR_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
      "SeriesInstanceUID": "1.2.3.4", "SOPInstanceUID": ["1.2.3.4.5", "1.2.3.4.6"],
      "InstanceNumber": None, "SOPClassUID": None}, "IMAGE"),
    # C.4.1.2.1 restricts levels above only: keys below the level pass.
    ("pr-find-key-below", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "Modality": "CT",
      "SOPInstanceUID": None}, "STUDY"),
    # No table names these: "all other attributes" are optional; private kept.
    ("pr-find-unlisted-and-private", PR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
      "BodyPartExamined": None, "Private": "x"}, "SERIES"),
    # C.2.2.2 / C.4.1.1.3.1: present, not keys.  Empty Instance Availability
    # (asking for it back) is tolerated.
    ("pr-find-non-keys", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "SpecificCharacterSet": "ISO_IR 100",
      "TimezoneOffsetFromUTC": "+0100", "QueryRetrieveView": "ENHANCED",
      "InstanceAvailability": None, "RetrieveAETitle": None}, "STUDY"),
    ("pr-find-empty-charset", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "SpecificCharacterSet": None},
     "STUDY"),
    # The unique key of the query level itself may be left out (lenient).
    ("pr-find-no-level-unique-key", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "AccessionNumber": "A*"}, "STUDY"),
    ("pr-find-lowercase-level", PR_FIND, False,
     {"QueryRetrieveLevel": "study", "PatientID": "P1"}, "STUDY"),
    # C.4.1.2.2.1 relational: any combination of keys at any level.
    ("pr-find-relational", PR_FIND, True,
     {"QueryRetrieveLevel": "IMAGE", "PatientName": "DOE*", "StudyDate": "2020-",
      "Modality": "MR", "SOPInstanceUID": None}, "IMAGE"),
    # Table C.6-5: the patient keys are STUDY-level keys in Study Root.
    ("sr-find-study-patient-keys", SR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientName": "DOE*", "PatientID": None,
      "PatientBirthDate": None, "PatientSex": None, "StudyInstanceUID": None}, "STUDY"),
    ("sr-find-series", SR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": "1.2.3", "Modality": None},
     "SERIES"),
    ("sr-find-image", SR_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "StudyInstanceUID": "1.2.3",
      "SeriesInstanceUID": "1.2.3.4", "SOPInstanceUID": None}, "IMAGE"),
    ("sr-find-relational", SR_FIND, True,
     {"QueryRetrieveLevel": "SERIES", "PatientName": "DOE*", "Modality": "CT"}, "SERIES"),
    ("pso-find-study", PSO_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "StudyDate": None}, "STUDY"),
    # C.4.2.2.1 / C.4.3.2.1: one value above, one or a list of UIDs at the level.
    ("pr-move-patient", PR_MOVE, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": "P1"}, "PATIENT"),
    ("pr-move-study-list", PR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1",
      "StudyInstanceUID": ["1.2.3", "1.2.4"]}, "STUDY"),
    ("pr-get-image", PR_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
      "SeriesInstanceUID": "1.2.3.4", "SOPInstanceUID": ["1.2.3.4.5", "1.2.3.4.6"]},
     "IMAGE"),
    # C.4.2.3.1: the SCP goes by the unique keys; other keys are ignored.
    ("pr-move-extra-keys", PR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
      "PatientName": None, "StudyDate": "20200101", "SeriesInstanceUID": "9.9"}, "STUDY"),
    ("pr-get-charset", PR_GET, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": "P1", "SpecificCharacterSet": "ISO_IR 100",
      "QueryRetrieveView": "CLASSIC"}, "PATIENT"),
    # C.4.2.2.2.1 relational-retrieve: nothing needed above.
    ("pr-move-relational", PR_MOVE, True,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": ["1.2.3.4.5", "1.2.3.4.6"]}, "IMAGE"),
    ("pr-get-relational-partial", PR_GET, True,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": "1.2.3",
      "SeriesInstanceUID": "1.2.3.4"}, "SERIES"),
    ("sr-move-study", SR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "1.2.3", "PatientID": "P1"}, "STUDY"),
    ("sr-get-series", SR_GET, False,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": "1.2.3",
      "SeriesInstanceUID": ["1.2.3.4", "1.2.3.5"]}, "SERIES"),
    ("pso-get-study", PSO_GET, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "StudyInstanceUID": "1.2.3"}, "STUDY"),
    ("pso-move-patient", PSO_MOVE, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": "P1"}, "PATIENT"),
    # Annex Y: IMAGE takes a list; FRAME one UID and exactly one frame key.
    ("cir-image", CIR_MOVE, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": ["1.2.3", "1.2.4"]}, "IMAGE"),
    ("cir-frame-simple", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2.3",
      "SimpleFrameList": [1, 2, 5, 9]}, "FRAME"),
    ("cir-frame-simple-one", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2.3", "SimpleFrameList": 7}, "FRAME"),
    # Y.3.2.1.2's own example: 2, 9, 3, 12, FFFFFFFFH, 5.
    ("cir-frame-calculated", CIR_MOVE, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2.3",
      "CalculatedFrameList": [2, 9, 3, 12, 0xFFFFFFFF, 5]}, "FRAME"),
    ("cir-frame-time", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2.3", "TimeRange": [0.5, 2.25]},
     "FRAME"),
    ("cir-image-view", CIR_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2.3",
      "QueryRetrieveView": "ENHANCED"}, "IMAGE"),
    # Annex Z.
    ("wbd-image", WBD_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": ["1.2.3", "1.2.4"]}, "IMAGE"),
    # Annexes X, HH, II: worklist-style C-FIND, no level; any subset of keys.
    ("cp-find", CP_FIND, False, {"ContentLabel": "HOT*", "SOPInstanceUID": None},
     "COLOR_PALETTE"),
    ("cp-find-empty", CP_FIND, False, {}, "COLOR_PALETTE"),
    ("cp-find-level-tolerated", CP_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "ContentLabel": None}, "COLOR_PALETTE"),
    ("dpp-find", DPP_FIND, False,
     {"ProtocolName": "CHEST*", "EquipmentModality": "CT", "ModelSpecificationSequence": None,
      "PotentialReasonsForProcedure": None}, "DEFINED_PROCEDURE_PROTOCOL"),
    ("pa-find", PA_FIND, False,
     {"ApprovalSubjectSequence": None, "InstanceCreationDate": "20200101-"},
     "PROTOCOL_APPROVAL"),
    # X.4.2 etc.: SOP Instance UID(s), one or a list.
    ("cp-move", CP_MOVE, False, {"SOPInstanceUID": ["1.2.3", "1.2.4"]}, "COLOR_PALETTE"),
    ("cp-get", CP_GET, False, {"SOPInstanceUID": "1.2.3"}, "COLOR_PALETTE"),
    ("dpp-move", DPP_MOVE, False, {"SOPInstanceUID": "1.2.3"}, "DEFINED_PROCEDURE_PROTOCOL"),
    ("pa-move", PA_MOVE, False, {"SOPInstanceUID": "1.2.3", "SOPClassUID": None},
     "PROTOCOL_APPROVAL"),
    # HH.4.3 / II.4.3 do not forbid a level in C-GET: tolerated.
    ("dpp-get-level-tolerated", DPP_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2.3"}, "DEFINED_PROCEDURE_PROTOCOL"),
    ("pa-get-level-tolerated", PA_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2.3"}, "PROTOCOL_APPROVAL"),
]


def expected_keys(elements: dict[str, Any]) -> tuple[int, ...]:
    tags = []
    for keyword in elements:
        if keyword == "Private":
            tags += [PRIVATE_CREATOR, PRIVATE]
        elif keyword not in NOT_KEYS:
            tags.append(tag(keyword))
    return tuple(sorted(tags))


@pytest.mark.parametrize(("uid", "relational", "elements", "level"),
                         [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_valid(prepare: Any, uid: str, relational: bool, elements: dict[str, Any],
               level: str) -> None:
    spec = validate(prepare(make(**elements)), uid, relational=relational)
    row = uids.qr_sop_class(uid)
    assert row is not None
    assert isinstance(spec, QuerySpec)
    assert spec.model is MODELS[row.model]
    assert spec.service is row.service
    assert spec.level == level
    assert spec.keys == expected_keys(elements)
    # Relational only where the model defines it (C.6 models).
    assert spec.relational is (relational and row.model in (
        QRModel.PATIENT_ROOT, QRModel.STUDY_ROOT, QRModel.PATIENT_STUDY_ONLY))


# -- invalid identifiers: (SOP class, relational, elements, status, offending, comment) ---

INVALID: list[tuple[str, str, bool, dict[str, Any], int, tuple[str, ...], str]] = [
    # C.4.1.1.3.1: the level is required and must be one of the model's.
    ("find-no-level", PR_FIND, False, {"PatientID": "P1"}, A900, ("QueryRetrieveLevel",),
     "Query/Retrieve Level missing"),
    ("find-empty-level", PR_FIND, False, {"QueryRetrieveLevel": None, "PatientID": "P1"}, A900,
     ("QueryRetrieveLevel",), "missing"),
    ("find-frame-level", PR_FIND, False, {"QueryRetrieveLevel": "FRAME"}, A900,
     ("QueryRetrieveLevel",), "FRAME"),
    ("find-long-level", PR_FIND, False, {"QueryRetrieveLevel": "INSTANCE" * 8}, A900,
     ("QueryRetrieveLevel",), "Query/Retrieve Level 'INSTANCE"),
    ("find-two-levels", PR_FIND, False, {"QueryRetrieveLevel": ["STUDY", "SERIES"]}, A900,
     ("QueryRetrieveLevel",), "not in model"),
    ("sr-find-patient-level", SR_FIND, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": None}, A900, ("QueryRetrieveLevel",),
     "PATIENT"),
    ("pso-find-series-level", PSO_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "SERIES"),
    ("find-empty", SR_FIND, False, {}, A900, ("QueryRetrieveLevel",), "missing"),
    # C.4.1.2.1: one value in the unique key of each level above.
    ("find-missing-above", PR_FIND, False, {"QueryRetrieveLevel": "STUDY"}, A900,
     ("PatientID",), "PatientID missing"),
    ("find-empty-above", PR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": None}, A900,
     ("StudyInstanceUID",), "StudyInstanceUID empty"),
    ("find-wildcard-above", PR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P*"}, A900, ("PatientID",), "one value"),
    ("find-list-above", SR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": ["1.2", "1.3"]}, A900,
     ("StudyInstanceUID",), "one value"),
    ("find-missing-second-above", PR_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "PatientID": "P1", "StudyInstanceUID": "1.2"}, A900,
     ("SeriesInstanceUID",), "SeriesInstanceUID missing"),
    # ... and no required or optional key of a level above.
    ("find-required-above", PR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": "1.2",
      "StudyDate": None}, A900, ("StudyDate",), "above level SERIES"),
    ("find-optional-above", PR_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "PatientID": "P1", "StudyInstanceUID": "1.2",
      "SeriesInstanceUID": "1.2.3", "PatientBirthDate": None}, A900, ("PatientBirthDate",),
     "above level IMAGE"),
    ("sr-find-patient-key-above", SR_FIND, False,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": "1.2", "PatientName": "DOE*"},
     A900, ("PatientName",), "PatientName"),
    ("sr-find-patient-id-above", SR_FIND, False,
     {"QueryRetrieveLevel": "IMAGE", "StudyInstanceUID": "1.2", "SeriesInstanceUID": "1.2.3",
      "PatientID": "P1"}, A900, ("PatientID",), "PatientID"),
    # C.4.1.1.3.2: Instance Availability is not a request key.
    ("find-instance-availability", PR_FIND, False,
     {"QueryRetrieveLevel": "PATIENT", "InstanceAvailability": "ONLINE"}, A900,
     ("InstanceAvailability",), "Instance Availability"),
    # C.4.1.2.2.2: the view is CLASSIC or ENHANCED.
    ("find-bad-view", SR_FIND, False,
     {"QueryRetrieveLevel": "STUDY", "QueryRetrieveView": "FANCY"}, A900,
     ("QueryRetrieveView",), "CLASSIC or ENHANCED"),
    ("move-bad-view", SR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "1.2", "QueryRetrieveView": "X"},
     A900, ("QueryRetrieveView",), "CLASSIC or ENHANCED"),
    # C.4.2.2.1 / C.4.3.2.1 retrieves.
    ("move-empty", PR_MOVE, False, {}, A900, (), "empty"),
    ("get-empty", CIR_GET, False, {}, A900, (), "empty"),
    ("move-no-level", PR_MOVE, False, {"PatientID": "P1"}, A900, ("QueryRetrieveLevel",),
     "missing"),
    ("move-patient-list", PR_MOVE, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": ["P1", "P2"]}, A900, ("PatientID",),
     "at level PATIENT"),
    ("move-patient-wildcard", PR_MOVE, False,
     {"QueryRetrieveLevel": "PATIENT", "PatientID": "P?"}, A900, ("PatientID",),
     "at level PATIENT"),
    ("move-missing-level-key", PR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "PatientID": "P1"}, A900, ("StudyInstanceUID",),
     "StudyInstanceUID missing"),
    ("get-empty-level-key", SR_GET, False,
     {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": None}, A900, ("StudyInstanceUID",),
     "StudyInstanceUID empty"),
    ("get-wildcard-uid", SR_GET, False,
     {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": "1.2",
      "SeriesInstanceUID": "1.2.*"}, A900, ("SeriesInstanceUID",), "no wild cards"),
    ("move-missing-above", PR_MOVE, False,
     {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "1.2"}, A900, ("PatientID",),
     "PatientID missing"),
    ("get-list-above", SR_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "StudyInstanceUID": "1.2",
      "SeriesInstanceUID": ["1.2.3", "1.2.4"], "SOPInstanceUID": "1.2.3.4"}, A900,
     ("SeriesInstanceUID",), "one value"),
    ("get-relational-list-above", SR_GET, True,
     {"QueryRetrieveLevel": "IMAGE", "SeriesInstanceUID": ["1.2.3", "1.2.4"],
      "SOPInstanceUID": "1.2.3.4"}, A900, ("SeriesInstanceUID",), "one value"),
    ("move-relational-still-needs-level-key", PR_MOVE, True,
     {"QueryRetrieveLevel": "IMAGE", "PatientID": "P1"}, A900, ("SOPInstanceUID",),
     "SOPInstanceUID missing"),
    ("pso-move-series", PSO_MOVE, False,
     {"QueryRetrieveLevel": "SERIES", "PatientID": "P1", "StudyInstanceUID": "1.2",
      "SeriesInstanceUID": "1.2.3"}, A900, ("QueryRetrieveLevel",), "not in model"),
    # Annex Y.
    ("cir-no-level", CIR_MOVE, False, {"SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "missing"),
    ("cir-series-level", CIR_MOVE, False,
     {"QueryRetrieveLevel": "SERIES", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "SERIES"),
    ("cir-charset", CIR_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2",
      "SpecificCharacterSet": "ISO_IR 100"}, A900, ("SpecificCharacterSet",),
     "shall not be present"),
    ("cir-image-no-uid", CIR_GET, False, {"QueryRetrieveLevel": "IMAGE"}, A900,
     ("SOPInstanceUID",), "SOPInstanceUID missing"),
    ("cir-frame-no-uid", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SimpleFrameList": [1]}, A900, ("SOPInstanceUID",),
     "SOPInstanceUID missing"),
    ("cir-image-frame-key", CIR_MOVE, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2", "SimpleFrameList": [1, 2]},
     AA04, ("SimpleFrameList",), "FRAME"),
    ("cir-frame-two-uids", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": ["1.2", "1.3"],
      "SimpleFrameList": [1]}, AA04, ("SOPInstanceUID",), "single SOP Instance UID"),
    ("cir-frame-no-frame-key", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2"}, AA04,
     ("SimpleFrameList", "CalculatedFrameList", "TimeRange"), "no frame range key"),
    ("cir-frame-two-frame-keys", CIR_MOVE, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": [1],
      "TimeRange": [0.0, 1.0]}, AA04, ("SimpleFrameList", "TimeRange"), "more than one"),
    ("cir-simple-decreasing", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": [3, 2]},
     AA04, ("SimpleFrameList",), "Simple Frame List"),
    ("cir-simple-duplicate", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": [1, 1]},
     AA04, ("SimpleFrameList",), "Simple Frame List"),
    ("cir-simple-zero", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": [0, 1]},
     AA04, ("SimpleFrameList",), "Simple Frame List"),
    ("cir-simple-empty", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": None},
     AA04, ("SimpleFrameList",), "Simple Frame List"),
    ("cir-calculated-not-triplets", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2",
      "CalculatedFrameList": [1, 5, 1, 7]}, AA04, ("CalculatedFrameList",), "tuples"),
    ("cir-calculated-zero-step", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2",
      "CalculatedFrameList": [1, 5, 0]}, AA04, ("CalculatedFrameList",), "tuples"),
    ("cir-calculated-last-before-first", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2",
      "CalculatedFrameList": [5, 1, 1]}, AA04, ("CalculatedFrameList",), "tuples"),
    ("cir-calculated-overlap", CIR_MOVE, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2",
      "CalculatedFrameList": [2, 9, 3, 8, 20, 5]}, AA04, ("CalculatedFrameList",), "tuples"),
    ("cir-calculated-end-not-last", CIR_MOVE, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2",
      "CalculatedFrameList": [1, 0xFFFFFFFF, 1, 9, 9, 1]}, AA04, ("CalculatedFrameList",),
     "tuples"),
    ("cir-time-one-value", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "TimeRange": 1.0}, AA04,
     ("TimeRange",), "Time Range"),
    ("cir-time-reversed", CIR_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "TimeRange": [3.0, 1.0]}, AA04,
     ("TimeRange",), "Time Range"),
    # Relational-retrieve is not defined for Annex Y: baseline rules apply.
    ("cir-relational-ignored", CIR_GET, True,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2"}, AA04,
     ("SimpleFrameList", "CalculatedFrameList", "TimeRange"), "frame range key"),
    # Annex Z.
    ("wbd-series-level", WBD_GET, False,
     {"QueryRetrieveLevel": "SERIES", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "SERIES"),
    ("wbd-frame-level", WBD_GET, False,
     {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": "1.2", "SimpleFrameList": [1]}, A900,
     ("QueryRetrieveLevel",), "FRAME"),
    ("wbd-no-level", WBD_GET, False, {"SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "missing"),
    ("wbd-no-uid", WBD_GET, False, {"QueryRetrieveLevel": "IMAGE"}, A900,
     ("SOPInstanceUID",), "SOPInstanceUID missing"),
    ("wbd-charset", WBD_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2", "SpecificCharacterSet": None},
     A900, ("SpecificCharacterSet",), "shall not be present"),
    ("wbd-wildcard", WBD_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "*"}, A900, ("SOPInstanceUID",),
     "no wild cards"),
    # Annexes X, HH, II retrieves.
    ("cp-move-level", CP_MOVE, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "shall not be present"),
    ("cp-get-level", CP_GET, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "shall not be present"),
    ("dpp-move-level", DPP_MOVE, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "shall not be present"),
    ("pa-move-level", PA_MOVE, False,
     {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2"}, A900,
     ("QueryRetrieveLevel",), "shall not be present"),
    ("cp-get-no-uid", CP_GET, False, {"ContentLabel": "HOT"}, A900, ("SOPInstanceUID",),
     "SOPInstanceUID missing"),
    ("dpp-get-empty-uid", DPP_GET, False, {"SOPInstanceUID": None}, A900,
     ("SOPInstanceUID",), "SOPInstanceUID empty"),
    ("pa-get-wildcard", PA_GET, False, {"SOPInstanceUID": "1.2*"}, A900, ("SOPInstanceUID",),
     "no wild cards"),
    ("pa-move-empty", PA_MOVE, False, {}, A900, (), "empty"),
    ("dpp-move-relational-ignored", DPP_MOVE, True, {"ProtocolName": "X"}, A900,
     ("SOPInstanceUID",), "missing"),
]


@pytest.mark.parametrize(("uid", "relational", "elements", "status", "offending", "comment"),
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid(prepare: Any, uid: str, relational: bool, elements: dict[str, Any],
                 status: int, offending: tuple[str, ...], comment: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate(prepare(make(**elements)), uid, relational=relational)
    exc = caught.value
    assert isinstance(exc, DicomqrError)
    assert exc.status == status
    assert exc.offending == tuple(tag(k) for k in offending)
    assert comment in exc.comment
    assert 0 < len(exc.comment) <= 64  # Error Comment (0000,0902) is an LO
    assert str(exc) == exc.comment


def test_relational_lifts_the_above_rules() -> None:
    # The same identifiers as find-required-above / find-missing-above pass once
    # relational queries are negotiated (C.4.1.2.2.1).
    for elements in ({"QueryRetrieveLevel": "SERIES", "PatientID": "P1",
                      "StudyInstanceUID": "1.2", "StudyDate": None},
                     {"QueryRetrieveLevel": "STUDY"}):
        spec = validate(make(**elements), PR_FIND, relational=True)
        assert spec.relational
        with pytest.raises(InvalidIdentifier):
            validate(make(**elements), PR_FIND)


def test_unknown_sop_class() -> None:
    ds = make(QueryRetrieveLevel="STUDY")
    with pytest.raises(ValueError, match="not a Query/Retrieve SOP class"):
        validate(ds, uids.VERIFICATION_SOP_CLASS)
    with pytest.raises(ValueError):
        validate(ds, "1.2.840.10008.5.1.4.31")  # Modality Worklist: not one of the 21


def test_keys_leave_out_non_key_elements() -> None:
    ds = make(QueryRetrieveLevel="STUDY", PatientID="P1", SpecificCharacterSet="ISO_IR 192",
              TimezoneOffsetFromUTC="-0500", QueryRetrieveView="CLASSIC", StudyDate=None)
    ds.add_new(0x00080000, "UL", 42)  # a (retired) group length
    ds.add_new(0x00020010, "UI", "1.2.840.10008.1.2")  # group 0002 is not data set
    spec = validate(ds, PR_FIND)
    assert spec.keys == (tag("StudyDate"), tag("PatientID"))


def test_undecodable_value_is_a900() -> None:
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    ds = make(QueryRetrieveLevel="FRAME", SOPInstanceUID="1.2")
    bad = Tag(0x00081161)  # Simple Frame List, UL: 3 bytes cannot be decoded
    ds._dict[bad] = RawDataElement(bad, None, 3, b"\x01\x02\x03", 0, True, True)
    with pytest.raises(InvalidIdentifier) as caught:
        validate(ds, CIR_GET)
    assert caught.value.status == A900
    assert caught.value.offending == (0x00081161,)


def test_every_sop_class_has_a_valid_case() -> None:
    assert {case[1] for case in VALID} == set(uids.QR_SOP_CLASSES)


def test_services_of_spec() -> None:
    spec = validate(make(SOPInstanceUID="1.2"), CP_GET)
    assert spec.service is QRService.GET
    assert validate(make(), CP_FIND).service is QRService.FIND


def test_comment_fits_an_lo() -> None:
    exc = InvalidIdentifier(A900, "x" * 100, [0x00100020])
    assert exc.comment == "x" * 64
    assert exc.offending == (0x00100020,)
    assert "0x00100020" in repr(exc)
