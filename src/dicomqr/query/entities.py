"""Which information entity attributes that are not model keys belong to.

The Query/Retrieve model tables (PS3.4 C.6) end each level with "all other
attributes at this level": an attribute of the Series IE is an optional key
of the SERIES level, one of the Image IE of the IMAGE level.  Which IE an
attribute belongs to is said by the module it is defined in and the IE that
module is part of (PS3.3 Annex A, the IOD module tables).  pydicom does not
carry those tables; this is the part of them for the modules whose
attributes queries commonly name:

- Patient IE: Patient module (PS3.3 C.7.1.1), Clinical Trial Subject;
- Study IE: General Study (C.7.2.1), Patient Study (C.7.2.2), Clinical
  Trial Study;
- Series IE: General Series (C.7.3.1), Frame of Reference (C.7.4.1),
  General Equipment (C.7.5.1), Enhanced General Equipment, Clinical Trial
  Series;
- Image IE: General Image (C.7.6.1), Image Plane (C.7.6.2), Image Pixel
  (C.7.6.3, without Pixel Data), General Acquisition, SOP Common
  (C.12.1).

An attribute not listed here is taken to be of the query level (the archive
matches it on the entity's own attributes).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["ENTITY_OF", "entity_of"]

_PATIENT: Final = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientBirthTime",
    "PatientSex", "OtherPatientIDsSequence", "OtherPatientNames", "EthnicGroup",
    "PatientComments", "PatientSpeciesDescription", "PatientBreedDescription",
    "ResponsiblePerson", "ResponsibleOrganization", "PatientIdentityRemoved",
    "DeidentificationMethod", "ClinicalTrialSponsorName", "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName", "ClinicalTrialSiteID", "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID",
)
_STUDY: Final = (
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence", "StudyID", "AccessionNumber",
    "IssuerOfAccessionNumberSequence", "StudyDescription", "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy", "ReferencedStudySequence",
    "ProcedureCodeSequence", "ReasonForPerformedProcedureCodeSequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence", "PatientAge",
    "PatientSize", "PatientWeight", "PatientSizeCodeSequence", "Occupation",
    "AdditionalPatientHistory", "AdmissionID", "PregnancyStatus", "SmokingStatus",
    "MedicalAlerts", "Allergies", "ClinicalTrialTimePointID",
    "ClinicalTrialTimePointDescription",
)
_SERIES: Final = (
    "Modality", "SeriesInstanceUID", "SeriesNumber", "Laterality", "SeriesDate", "SeriesTime",
    "PerformingPhysicianName", "ProtocolName", "SeriesDescription",
    "SeriesDescriptionCodeSequence", "OperatorsName", "ReferencedPerformedProcedureStepSequence",
    "RelatedSeriesSequence", "BodyPartExamined", "PatientPosition",
    "SmallestPixelValueInSeries", "LargestPixelValueInSeries", "RequestAttributesSequence",
    "PerformedProcedureStepID", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepDescription",
    "PerformedProtocolCodeSequence", "AnatomicalOrientationType",
    "FrameOfReferenceUID", "PositionReferenceIndicator",
    "Manufacturer", "InstitutionName", "InstitutionAddress", "StationName",
    "InstitutionalDepartmentName", "ManufacturerModelName", "DeviceSerialNumber",
    "SoftwareVersions", "GantryID", "SpatialResolution", "DateOfLastCalibration",
    "TimeOfLastCalibration", "PixelPaddingValue", "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialSeriesID", "ClinicalTrialSeriesDescription",
)
_IMAGE: Final = (
    "InstanceNumber", "PatientOrientation", "ContentDate", "ContentTime", "ImageType",
    "AcquisitionNumber", "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime",
    "ReferencedImageSequence", "DerivationDescription", "SourceImageSequence",
    "ImagesInAcquisition", "ImageComments", "QualityControlImage", "BurnedInAnnotation",
    "RecognizableVisualFeatures", "LossyImageCompression", "LossyImageCompressionRatio",
    "LossyImageCompressionMethod", "IconImageSequence", "PresentationLUTShape",
    "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient", "SliceThickness",
    "SliceLocation", "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PlanarConfiguration",
    "PixelAspectRatio", "NumberOfFrames", "WindowCenter", "WindowWidth", "RescaleIntercept",
    "RescaleSlope", "RescaleType", "SOPClassUID", "SOPInstanceUID", "InstanceCreationDate",
    "InstanceCreationTime", "InstanceCreatorUID", "ContentQualification",
    "ContainerIdentifier",
)

#: DICOM keyword -> PATIENT, STUDY, SERIES or IMAGE.
ENTITY_OF: Final = MappingProxyType({
    keyword: level
    for level, keywords in (("PATIENT", _PATIENT), ("STUDY", _STUDY), ("SERIES", _SERIES),
                            ("IMAGE", _IMAGE))
    for keyword in keywords
})


def entity_of(keyword: str) -> str | None:
    """The information entity of ``keyword`` (None: not known here)."""
    return ENTITY_OF.get(keyword)
