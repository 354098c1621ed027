"""The Q/R information models against independently typed expectations."""

from __future__ import annotations

import pytest
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from dicomqr.query import MODELS, InformationModel, KeyKind, model_for
from dicomqr.uids import QR_SOP_CLASSES, QRModel

# model -> ((level, unique keyword(s)), ...), typed from PS3.4, not from the code.
EXPECTED_LEVELS: dict[QRModel, tuple[tuple[str, tuple[str, ...]], ...]] = {
    QRModel.PATIENT_ROOT: (
        ("PATIENT", ("PatientID",)),
        ("STUDY", ("StudyInstanceUID",)),
        ("SERIES", ("SeriesInstanceUID",)),
        ("IMAGE", ("SOPInstanceUID",)),
    ),
    QRModel.STUDY_ROOT: (
        ("STUDY", ("StudyInstanceUID",)),
        ("SERIES", ("SeriesInstanceUID",)),
        ("IMAGE", ("SOPInstanceUID",)),
    ),
    QRModel.PATIENT_STUDY_ONLY: (
        ("PATIENT", ("PatientID",)),
        ("STUDY", ("StudyInstanceUID",)),
    ),
    QRModel.COMPOSITE_INSTANCE_ROOT: (
        ("IMAGE", ("SOPInstanceUID",)),
        ("FRAME", ("SimpleFrameList", "CalculatedFrameList", "TimeRange")),
    ),
    QRModel.WITHOUT_BULK_DATA: (("IMAGE", ("SOPInstanceUID",)),),
    QRModel.DEFINED_PROCEDURE_PROTOCOL: (("DEFINED_PROCEDURE_PROTOCOL", ("SOPInstanceUID",)),),
    QRModel.PROTOCOL_APPROVAL: (("PROTOCOL_APPROVAL", ("SOPInstanceUID",)),),
    QRModel.COLOR_PALETTE: (("COLOR_PALETTE", ("SOPInstanceUID",)),),
}

EXPECTED_REQUIRED: dict[tuple[QRModel, str], set[str]] = {
    (QRModel.PATIENT_ROOT, "PATIENT"): {"PatientName"},
    (QRModel.PATIENT_ROOT, "STUDY"): {"StudyDate", "StudyTime", "AccessionNumber", "StudyID"},
    (QRModel.PATIENT_ROOT, "SERIES"): {"Modality", "SeriesNumber"},
    (QRModel.PATIENT_ROOT, "IMAGE"): {"InstanceNumber"},
    (QRModel.STUDY_ROOT, "STUDY"): {
        "StudyDate", "StudyTime", "AccessionNumber", "StudyID", "PatientName", "PatientID",
    },
    (QRModel.COLOR_PALETTE, "COLOR_PALETTE"): {"SOPClassUID", "ContentLabel"},
    # Table II.6-1: Approval Sequence (0044,0100) is R.
    (QRModel.PROTOCOL_APPROVAL, "PROTOCOL_APPROVAL"): {
        "SOPClassUID", "InstanceCreationDate", "InstanceCreationTime", "ApprovalSubjectSequence",
        "ApprovalSequence",
    },
    # Table HH.6-1, every top-level row with Matching Key Type R.
    (QRModel.DEFINED_PROCEDURE_PROTOCOL, "DEFINED_PROCEDURE_PROTOCOL"): {
        "SOPClassUID", "CustodialOrganizationSequence", "ResponsibleGroupCodeSequence",
        "ProtocolName", "PotentialScheduledProtocolCodeSequence",
        "PotentialRequestedProcedureCodeSequence", "PotentialReasonsForProcedureCodeSequence",
        "PredecessorProtocolSequence", "ContentCreatorName", "InstanceCreationDate",
        "InstanceCreationTime", "ClinicalTrialSponsorName", "ClinicalTrialProtocolID",
        "EquipmentModality", "ModelSpecificationSequence", "AnatomicRegionSequence",
        "PrimaryAnatomicStructureSequence",
    },
    (QRModel.COMPOSITE_INSTANCE_ROOT, "IMAGE"): set(),
    (QRModel.WITHOUT_BULK_DATA, "IMAGE"): set(),
}


def test_every_model_present() -> None:
    assert set(MODELS) == set(QRModel)
    assert set(EXPECTED_LEVELS) == set(QRModel)
    for model, im in MODELS.items():
        assert im.model is model


@pytest.mark.parametrize("model", list(QRModel), ids=lambda m: m.name)
def test_levels_and_unique_keys(model: QRModel) -> None:
    im = MODELS[model]
    expected = EXPECTED_LEVELS[model]
    assert im.level_names == tuple(name for name, _ in expected)
    for name, uniques in expected:
        assert tuple(k.keyword for k in im.unique_keys(name)) == uniques
        assert im.unique_key(name).keyword == uniques[0]


@pytest.mark.parametrize(("model", "level"), list(EXPECTED_REQUIRED),
                         ids=lambda v: getattr(v, "name", v))
def test_required_keys(model: QRModel, level: str) -> None:
    got = {k.keyword for k in MODELS[model].required_keys(level)}
    assert got == EXPECTED_REQUIRED[(model, level)]


@pytest.mark.parametrize("model", list(QRModel), ids=lambda m: m.name)
def test_keywords_and_tags_are_real(model: QRModel) -> None:
    for level in MODELS[model].levels:
        for key in level.keys:
            assert tag_for_keyword(key.keyword) == key.tag
            assert keyword_for_tag(key.tag) == key.keyword


@pytest.mark.parametrize("model", list(QRModel), ids=lambda m: m.name)
def test_keys_unique_within_model(model: QRModel) -> None:
    im = MODELS[model]
    seen = [k.keyword for lv in im.levels for k in lv.keys]
    assert len(seen) == len(set(seen))
    for lv in im.levels:
        # one unique key per level, except Annex Y's FRAME (alternatives)
        n = len(im.unique_keys(lv.name))
        assert n == (3 if lv.name == "FRAME" else 1)
        assert lv.keys[0].kind is KeyKind.UNIQUE


def test_study_root_has_no_patient_level() -> None:
    sr = MODELS[QRModel.STUDY_ROOT]
    with pytest.raises(KeyError):
        sr.level("PATIENT")
    assert sr.level_of("PatientName") == "STUDY"
    assert sr.level_of("PatientBirthDate") == "STUDY"
    # Table C.6-5 does not carry over C.6-1's patient counts.
    assert sr.level_of("NumberOfPatientRelatedStudies") is None
    assert MODELS[QRModel.PATIENT_ROOT].level_of("NumberOfPatientRelatedStudies") == "PATIENT"


def test_optional_keys_listed() -> None:
    pr = MODELS[QRModel.PATIENT_ROOT]
    for keyword, level in [
        ("NumberOfPatientRelatedStudies", "PATIENT"),
        ("NumberOfPatientRelatedSeries", "PATIENT"),
        ("NumberOfPatientRelatedInstances", "PATIENT"),
        ("NumberOfStudyRelatedSeries", "STUDY"),
        ("NumberOfStudyRelatedInstances", "STUDY"),
        ("ModalitiesInStudy", "STUDY"),
        ("SOPClassesInStudy", "STUDY"),
        ("StudyDescription", "STUDY"),
        ("ReferringPhysicianName", "STUDY"),
        ("NumberOfSeriesRelatedInstances", "SERIES"),
        ("SOPClassUID", "IMAGE"),
    ]:
        assert pr.level_of(keyword) == level
        key = pr.level(level).key(keyword)
        assert key is not None and key.kind is KeyKind.OPTIONAL
    assert pr.level_of("NotAKeyword") is None


def test_helpers() -> None:
    pr = MODELS[QRModel.PATIENT_ROOT]
    assert pr.keys_at("SERIES") == pr.level("SERIES").keys
    assert [lv.name for lv in pr.levels_above("SERIES")] == ["PATIENT", "STUDY"]
    with pytest.raises(KeyError):
        pr.keys_at("FRAME")
    assert pr.hierarchical and pr.uses_qr_level
    for model in (QRModel.COLOR_PALETTE, QRModel.PROTOCOL_APPROVAL,
                  QRModel.DEFINED_PROCEDURE_PROTOCOL):
        assert not MODELS[model].uses_qr_level
        assert not MODELS[model].hierarchical


def test_model_for_all_21_sop_classes() -> None:
    assert len(QR_SOP_CLASSES) == 21
    for uid, row in QR_SOP_CLASSES.items():
        im = model_for(uid)
        assert isinstance(im, InformationModel)
        assert im.model is row.model
    assert model_for("1.2.840.10008.1.1") is None
    assert model_for("") is None


# Return-only rows ("-" Matching Key Type) of the single-entity tables.
EXPECTED_RETURN_ONLY: dict[QRModel, set[str]] = {
    QRModel.DEFINED_PROCEDURE_PROTOCOL: {
        "PotentialReasonsForProcedure", "PotentialDiagnosticTasks",
    },
    QRModel.PROTOCOL_APPROVAL: {"Manufacturer", "ManufacturerModelName", "SoftwareVersions"},
    QRModel.COLOR_PALETTE: {
        "ContentDescription", "ContentCreatorName", "AlternateContentDescriptionSequence",
    },
}


@pytest.mark.parametrize("model", list(EXPECTED_RETURN_ONLY), ids=lambda m: m.name)
def test_single_entity_return_only_keys(model: QRModel) -> None:
    (level,) = MODELS[model].levels
    got = {k.keyword for k in level.keys if k.kind is KeyKind.OPTIONAL}
    assert got == EXPECTED_RETURN_ONLY[model]
    assert level.key("SpecificCharacterSet") is None


def test_dropped_keys_not_in_tables() -> None:
    # Not in Tables C.6-1, C.6-2, C.6-4 and HH.6-1 of the edition checked.
    pr = MODELS[QRModel.PATIENT_ROOT]
    for keyword in ("OtherPatientIDs", "InterpretationAuthor", "ConcatenationUID"):
        assert pr.level_of(keyword) is None
    dpp = MODELS[QRModel.DEFINED_PROCEDURE_PROTOCOL]
    for keyword in ("Modality", "ContraindicationsCodeSequence", "ProtocolPlanningInformation"):
        assert dpp.level_of(keyword) is None
    for keyword in ("ConceptNameCodeSequence", "ContentTemplateSequence",
                    "RelatedGeneralSOPClassUID", "SpecimenDescriptionSequence"):
        assert pr.level_of(keyword) == "IMAGE"
