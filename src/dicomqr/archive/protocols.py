"""Defined Procedure Protocol and Protocol Approval objects for synthetic
archives: the non-patient objects an archive serves with the Defined
Procedure Protocol (PS3.4 Annex HH) and Protocol Approval (Annex II)
Query/Retrieve models, with the attributes their keys use (Tables HH.6-1
and II.6-1).  Deterministic from a seed, like :mod:`dicomqr.archive.generate`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Final

from pydicom.dataset import Dataset

from .generate import (
    _SALT,
    CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE,
    GENERATOR_UID_ROOT,
    PROTOCOL_APPROVAL_STORAGE,
    XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE,
    _file_meta,
    _run_id,
)

__all__ = ["protocol_objects"]


_Code = tuple[str, str, str]  # (Code Value, Coding Scheme Designator, Code Meaning)


@dataclass(frozen=True, slots=True)
class _Protocol:
    name: str
    modality: str
    region: _Code
    structure: _Code
    department: _Code
    procedure: _Code
    reasons: tuple[_Code, ...]
    tasks: tuple[str, ...]


_LOCAL: Final = "99DICOMQR"  # a private coding scheme ("99" prefix, PS3.16 8.2)
_RADIOLOGY: Final = ("394914008", "SCT", "Radiology")
_CARDIOLOGY: Final = ("394579002", "SCT", "Cardiology")
_COUGH: Final = ("49727002", "SCT", "Cough")
_CHEST_PAIN: Final = ("29857009", "SCT", "Chest pain")
_HEADACHE: Final = ("25064002", "SCT", "Headache")
_ABDOMINAL_PAIN: Final = ("21522001", "SCT", "Abdominal pain")

_PROTOCOLS: Final = (
    _Protocol("CT CHEST ROUTINE W CONTRAST", "CT", ("51185008", "SCT", "Chest"),
              ("39607008", "SCT", "Lung"), _RADIOLOGY,
              ("CTCHESTC", _LOCAL, "CT chest with contrast"),
              (_COUGH, _CHEST_PAIN), ("Detect pulmonary nodules", "Rule out pneumonia")),
    _Protocol("CT HEAD WO CONTRAST", "CT", ("69536005", "SCT", "Head"),
              ("12738006", "SCT", "Brain"), _RADIOLOGY,
              ("CTHEAD", _LOCAL, "CT head without contrast"), (_HEADACHE,),
              ("Rule out hemorrhage",)),
    _Protocol("CT ABDOMEN PELVIS PORTAL VENOUS", "CT", ("818981001", "SCT", "Abdomen"),
              ("10200004", "SCT", "Liver"), _RADIOLOGY,
              ("CTABDPEL", _LOCAL, "CT abdomen and pelvis with contrast"), (_ABDOMINAL_PAIN,),
              ("Detect liver lesions",)),
    _Protocol("XA CORONARY ANGIOGRAPHY", "XA", ("51185008", "SCT", "Chest"),
              ("80891009", "SCT", "Heart"), _CARDIOLOGY,
              ("XACORO", _LOCAL, "Coronary angiography"), (_CHEST_PAIN,),
              ("Assess coronary stenosis",)),
    _Protocol("CT PULMONARY ANGIOGRAPHY", "CT", ("51185008", "SCT", "Chest"),
              ("39607008", "SCT", "Lung"), _RADIOLOGY,
              ("CTPA", _LOCAL, "CT pulmonary angiography"), (_CHEST_PAIN, _COUGH),
              ("Rule out pulmonary embolism",)),
)
_INSTITUTIONS: Final = (
    ("Example General Hospital", ("EGH", _LOCAL, "Example General Hospital")),
    ("St. Placeholder Clinic", ("SPC", _LOCAL, "St. Placeholder Clinic")),
    ("Universitätsklinikum Musterstadt", ("UKM", _LOCAL, "Universitätsklinikum Musterstadt")),
)
_MODELS: Final = (
    ("ACME Medical", "Tomograph 64", "4.2"), ("ACME Medical", "Tomograph 128", "5.0"),
    ("Example Imaging", "AngioLine", "2.1"), ("Sample Systems", "Scanline X", "11.3"),
)
_CREATORS: Final = ("WHITE^ALICE", "BLACK^ROBERT^J", "Müller^Anna", "NAKAMURA^KENJI",
                    "山田^花子", "DUPONT^CLAIRE")
_APPROVERS: Final = ("CHIEF^MARY^^DR", "SAFETY^OFFICER", "Ødegaard^Åse", "REVIEW^BOARD")
_TRIALS: Final = (("Example Pharma", "EXP-2021-001"), ("Placebo Research", "PR-0042"))
#: CID 800 "Protocol Assertion" codes used, and what else their items need.
_APPROVED_HERE: Final = ("128603", "DCM", "Approved for use at the institution")
_APPROVED_TRIAL: Final = ("128604", "DCM", "Approved for use in the clinical trial")
_DISAPPROVED_HERE: Final = ("128623", "DCM", "Disapproved for use at the institution")


def _code(code: _Code) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def _ref(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class_uid
    item.ReferencedSOPInstanceUID = sop_instance_uid
    return item


def _institution(name: str, code: _Code) -> Dataset:
    item = Dataset()
    item.InstitutionName = name
    item.InstitutionCodeSequence = [_code(code)]
    return item


def _new_object(sop_class_uid: str, sop_instance_uid: str, created: date,
                rng: random.Random) -> Dataset:
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class_uid, sop_instance_uid)
    ds.InstanceCreationDate = created.strftime("%Y%m%d")
    ds.InstanceCreationTime = f"{rng.randint(7, 18):02d}{rng.randint(0, 59):02d}00"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def _needs_utf8(ds: Dataset) -> bool:
    """Whether a text value anywhere in ``ds`` is outside ASCII."""
    return any(elem.VR in _TEXT_VRS and not str(elem.value).isascii() for elem in ds.iterall())


_TEXT_VRS: Final = frozenset(("LO", "LT", "PN", "SH", "ST", "UC", "UT"))


def protocol_objects(n: int, seed: int) -> list[Dataset]:
    """``n`` protocol objects (each with ``file_meta``, ready to write as
    Part 10): the first ``n - n // 3`` are Defined Procedure Protocols (CT
    Defined Procedure Protocol Storage; XA for the XA template), the rest
    Protocol Approvals, each approving (or, one in four, disapproving) one of
    them.  Protocols repeat the template list; a repeat names the earlier
    one in Predecessor Protocol Sequence.  Same ``(n, seed)``, same objects;
    a larger ``n`` keeps the protocols of a smaller one."""
    prefix = f"{GENERATOR_UID_ROOT}{_run_id(f'{_SALT}|protocols|{seed}')}."
    n_protocols = n - n // 3
    start = date(2015, 1, 1).toordinal()
    protocols: list[Dataset] = []
    for k in range(1, n_protocols + 1):
        rng = random.Random(f"{_SALT}:protocol:{seed}:{k}")
        tpl = _PROTOCOLS[(k - 1) % len(_PROTOCOLS)]
        sop_class = (XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE if tpl.modality == "XA"
                     else CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE)
        ds = _new_object(sop_class, f"{prefix}4.{k}",
                         date.fromordinal(start + rng.randint(0, 3650)), rng)
        manufacturer, model, version = rng.choice(_MODELS)
        ds.Manufacturer = manufacturer
        ds.InstitutionName, institution_code = rng.choice(_INSTITUTIONS)
        ds.ManufacturerModelName = model
        ds.DeviceSerialNumber = f"SN{rng.randint(10000, 99999)}"
        ds.SoftwareVersions = version
        ds.ResponsibleGroupCodeSequence = [_code(tpl.department)]
        ds.EquipmentModality = tpl.modality
        ds.AnatomicRegionSequence = [_code(tpl.region)]
        ds.PrimaryAnatomicStructureSequence = [_code(tpl.structure)]
        if k % 3 == 0:  # one in three is a clinical trial's protocol
            ds.ClinicalTrialSponsorName, ds.ClinicalTrialProtocolID = rng.choice(_TRIALS)
        ds.ContentCreatorName = rng.choice(_CREATORS)
        ds.PotentialScheduledProtocolCodeSequence = [
            _code((f"P{tpl.procedure[0]}", _LOCAL, tpl.name))]
        ds.PotentialRequestedProcedureCodeSequence = [_code(tpl.procedure)]
        ds.PotentialReasonsForProcedure = [code[2] for code in tpl.reasons]
        ds.PotentialReasonsForProcedureCodeSequence = [_code(c) for c in tpl.reasons]
        ds.PotentialDiagnosticTasks = list(tpl.tasks)
        if k > len(_PROTOCOLS):
            earlier = protocols[k - 1 - len(_PROTOCOLS)]
            ds.PredecessorProtocolSequence = [_ref(earlier.SOPClassUID, earlier.SOPInstanceUID)]
        ds.ProtocolName = tpl.name
        ds.CustodialOrganizationSequence = [
            _institution(str(ds.InstitutionName), institution_code)]
        item = Dataset()
        item.Manufacturer, item.ManufacturerModelName, item.SoftwareVersions = (
            manufacturer, model, version)
        ds.ModelSpecificationSequence = [item]
        if _needs_utf8(ds):
            ds.SpecificCharacterSet = "ISO_IR 192"
        protocols.append(ds)

    approvals: list[Dataset] = []
    for j in range(1, n // 3 + 1):
        rng = random.Random(f"{_SALT}:approval:{seed}:{j}")
        subject = protocols[(j - 1) % n_protocols]
        created = max(date.fromordinal(start + rng.randint(0, 3650)),
                      date.fromisoformat(_iso(str(subject.InstanceCreationDate))))
        ds = _new_object(PROTOCOL_APPROVAL_STORAGE, f"{prefix}5.{j}", created, rng)
        ds.Manufacturer, ds.ManufacturerModelName, ds.SoftwareVersions = rng.choice(_MODELS)
        ds.DeviceSerialNumber = f"SN{rng.randint(10000, 99999)}"
        ds.ApprovalSequence = [_assertion(rng, j, prefix, created, subject)]
        ds.ApprovalSubjectSequence = [_ref(subject.SOPClassUID, subject.SOPInstanceUID)]
        if _needs_utf8(ds):
            ds.SpecificCharacterSet = "ISO_IR 192"
        approvals.append(ds)
    return protocols + approvals


def _iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}"


def _assertion(rng: random.Random, j: int, prefix: str, created: date,
               subject: Dataset) -> Dataset:
    """One item of Approval Sequence: the Assertion Macro (PS3.3 Table 10-30)
    and what its assertion code requires (PS3.3 C.34.15)."""
    trial = str(subject.get("ClinicalTrialProtocolID", ""))
    code = (_DISAPPROVED_HERE if j % 4 == 0 else _APPROVED_TRIAL if trial
            else _APPROVED_HERE)
    item = Dataset()
    item.AssertionCodeSequence = [_code(code)]
    item.AssertionUID = f"{prefix}6.{j}"
    asserter = Dataset()
    asserter.ObserverType = "PSN"
    asserter.PersonName = rng.choice(_APPROVERS)
    asserter.PersonIdentificationCodeSequence = [
        _code((f"U{rng.randint(100, 999)}", _LOCAL,
               " ".join(str(asserter.PersonName).split("^")).strip()))]
    institution, institution_code = rng.choice(_INSTITUTIONS)
    asserter.InstitutionName = institution
    item.AsserterIdentificationSequence = [asserter]
    stamp = f"{created.strftime('%Y%m%d')}{rng.randint(7, 18):02d}{rng.randint(0, 59):02d}00"
    item.AssertionDateTime = stamp
    expires = created.replace(year=created.year + 2, day=min(created.day, 28))
    item.AssertionExpirationDateTime = f"{expires.strftime('%Y%m%d')}{stamp[8:]}"
    if code is _APPROVED_TRIAL:
        item.ClinicalTrialProtocolID = trial
    else:
        item.InstitutionCodeSequence = [_code(institution_code)]
        item.InstitutionalDepartmentName = "Radiology"
    item.AssertionComments = "Reviewed by the protocol committee."
    return item
