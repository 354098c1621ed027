#!/usr/bin/env python3
"""Deterministic C-FIND data for the Query/Retrieve benchmark (``qr.py``).

* :func:`study_datasets`: N study-level C-FIND matches (QueryRetrieveLevel plus the
  :data:`STUDY_KEYS`), the answers the in-memory find handlers of ``qr_serve.py`` (dicomqr) and
  ``qr_pyn_scp.py`` (pynetdicom) yield.  Study ``i`` has PatientID ``G<i // 2000>-<i>``, so a
  query ``PatientID=G<k>*`` has 2,000 matches (the concurrent row): :func:`find_groups`.
* :func:`write_study_files`: tiny Part 10 files (no pixel data), one per study, with the same
  values, that ``dcmqridx`` registers in DCMTK ``dcmqrscp`` storage areas.  dcmqrscp caps a
  storage area at 500 studies (``DB_UpperMaxStudies``; ``dcmqridx`` crashes beyond it) and its
  ``index.dat`` at 32 MiB (~4,100 instance records of ~8 KiB), so the 10,000 studies live in
  20 areas of 500 (``DCMQR01`` .. ``DCMQR20``): studies 2,000k .. 2,000k+1,999 (PatientID
  ``G<k>-...``) are areas 4k+1 .. 4k+4.

Everything is a pure function of the study index, so every process builds the same data.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's example root, as gen_data.py
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
GROUP_SIZE = 2000  # studies per PatientID group (the concurrent row)
AREA_STUDIES = 500  # dcmqrscp's cap per storage area

SURNAMES = ["ADAMS", "BAKER", "CLARK", "DAVIS", "EVANS", "GARCIA", "HALL", "JONES", "KING",
            "LOPEZ", "MILLER", "NGUYEN", "PARKER", "SMITH", "TAYLOR", "WHITE", "XU", "YOUNG"]
GIVEN = ["ALICE", "BEN", "CHLOE", "DAVID", "EMMA", "FRANK", "GRACE", "IAN", "JULIA", "LIAM",
         "MARIA", "NOAH", "OLIVIA", "PAUL", "SOFIA", "VICTOR", "WEI", "ZOE"]
DESCRIPTIONS = ["CT CHEST W CONTRAST", "CT HEAD WO CONTRAST", "MR BRAIN W WO", "CT ABDOMEN",
                "MR KNEE LEFT", "CT ANGIO NECK", "MR LUMBAR SPINE", "CT PELVIS"]

#: The STUDY-level keys of the C-FIND requests (findscu ``-k``, dicomqr SCU), after
#: QueryRetrieveLevel; the handlers' matches carry exactly these.
STUDY_KEYS = ["PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime",
              "AccessionNumber", "StudyID", "StudyDescription"]


def study_uid(i: int) -> str:
    return f"{UID_ROOT}71.1.{i + 1}"


def study_values(i: int) -> dict[str, str]:
    month, day = 1 + (i * 7) % 12, 1 + (i * 13) % 28
    return {
        "PatientName": f"{SURNAMES[i % len(SURNAMES)]}^{GIVEN[(i // 7) % len(GIVEN)]}",
        "PatientID": f"G{i // GROUP_SIZE}-{i:06d}",
        "StudyInstanceUID": study_uid(i),
        "StudyDate": f"{2015 + i % 10}{month:02d}{day:02d}",
        "StudyTime": f"{8 + i % 10:02d}{(i * 11) % 60:02d}00",
        "AccessionNumber": f"QACC{i:07d}",
        "StudyID": str(1 + i % 99),
        "StudyDescription": DESCRIPTIONS[i % len(DESCRIPTIONS)],
    }


def study_dataset(i: int) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for key, value in study_values(i).items():
        setattr(ds, key, value)
    return ds


def study_datasets(n: int) -> list[Dataset]:
    return [study_dataset(i) for i in range(n)]


def find_groups(matches: list[Dataset]) -> dict[str, list[Dataset]]:
    """The prebuilt answer for each PatientID value the benchmark queries:
    '' and '*' match everything, ``G<k>*`` the studies of group k."""
    groups: dict[str, list[Dataset]] = {"": matches, "*": matches}
    for ds in matches:
        prefix = str(ds.PatientID).split("-", 1)[0]
        groups.setdefault(prefix + "*", []).append(ds)
    return groups


def area_title(a: int) -> str:
    """AE title of dcmqrscp storage area ``a`` (0-based)."""
    return f"DCMQR{a + 1:02d}"


def write_study_files(folder: Path, first: int, count: int) -> list[Path]:
    """One tiny CT instance per study ``first .. first+count-1``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(first, first + count):
        ds = Dataset()
        for key, value in study_values(i).items():
            setattr(ds, key, value)
        sop_uid = f"{study_uid(i)}.1.1"
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(CT_IMAGE_STORAGE)
        meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.Modality = "CT"
        ds.SeriesInstanceUID = f"{study_uid(i)}.1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = 1
        path = folder / f"s{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


if __name__ == "__main__":  # a quick look at the data
    print(study_dataset(0))
    print({k: len(v) for k, v in find_groups(study_datasets(10000)).items()})
