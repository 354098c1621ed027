#!/usr/bin/env python3
"""Deterministic query archive for the archive-server benchmark (``bench/archive.py``).

The same shape as the anchor benchmark's workload: ``patients`` patients (default 1,000) x 2
studies x 2 series x 2 instances, 64 x 64 16-bit CT/MR, Explicit VR Little Endian Part 10
files.  The patients are split into folders ``part1``, ``part2``, ... of ``part_patients``
patients each (default 250, i.e. 500 studies: DCMTK dcmqrscp keeps at most 500 studies per
storage area, so each part goes to its own area).

``manifest.json`` holds the ground truth the harness checks answers against: the number of
studies and instances, the StudyInstanceUIDs, and the matches of the two C-FIND queries
(``PatientName=*``; ``PatientName=A*`` with ``StudyDate=20180101-20201231``), both as
studies and as instances (pynetdicom's qrscp answers once per instance).

The 300-instance 512 x 512 retrieve study is ``gen_data.py``'s ``large`` workload.

Usage: ``archive_data.py [WORKDIR] [--patients N] [--part-patients N]``; files go to
``WORKDIR/data/archive-query-<N>p-<parts>``.  A complete folder is reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_data

FORMAT_VERSION = 1
PATIENTS_DEFAULT = 1000
PART_PATIENTS_DEFAULT = 250  # 500 studies: dcmqrscp's cap per storage area
QD_NAME = "A*"
QD_DATES = ("20180101", "20201231")
FIRST_DAY = dt.date(2015, 1, 1)
LAST_DAY = dt.date(2024, 12, 31)

SURNAMES = [
    "ABBOTT", "ADAMS", "AHMED", "ALLEN", "ALVAREZ", "BAKER", "BANKS", "BECK", "BELL", "BROOKS",
    "BROWN", "CARTER", "CHEN", "CLARK", "COLE", "COOPER", "CRUZ", "DAVIS", "DIAZ", "DUNN",
    "EDWARDS", "ELLIS", "EVANS", "FISHER", "FORD", "FOX", "GARCIA", "GRANT", "GREEN", "HALL",
    "HARRIS", "HAYES", "HILL", "HUGHES", "IVANOVA", "JACKSON", "JAMES", "JONES", "KELLY",
    "KHAN", "KIM", "KING", "LEE", "LEWIS", "LOPEZ", "MARSH", "MARTIN", "MEYER", "MILLER",
    "MOORE", "MORGAN", "NASH", "NGUYEN", "OLSEN", "ORTIZ", "PARK", "PATEL", "PEREZ", "PRICE",
    "QUINN", "REED", "REYES", "ROSS", "SCOTT", "SHAW", "SMITH", "STONE", "TAYLOR", "TORRES",
    "TURNER", "VEGA", "WALKER", "WARD", "WATSON", "WHITE", "WOOD", "YANG", "YOUNG", "ZHOU",
]
GIVEN = [
    "ADA", "ALEX", "AMIR", "ANNA", "BEA", "BORIS", "CARL", "CLARA", "DAN", "DINA", "EDGAR",
    "ELSA", "FELIX", "FIONA", "GUS", "HANA", "HUGO", "IRIS", "IVAN", "JANE", "JONAS", "KAI",
    "LENA", "LUCA", "MAYA", "MILO", "NINA", "OSCAR", "PIA", "RAJ", "ROSA", "SARA", "TOM",
    "UMA", "VERA", "YARA", "ZANE",
]
DESCRIPTIONS = {
    "CT": ["CT THORAX", "CT ABDOMEN WITH CONTRAST", "CT HEAD NATIVE", "CT PULMONARY ANGIO",
           "CT LUMBAR SPINE"],
    "MR": ["MR BRAIN", "MR KNEE LEFT", "MR CERVICAL SPINE", "MR HEART", "MR PELVIS"],
}
SERIES = {"CT": ["AX 3MM", "COR REFORMAT"], "MR": ["T1 SAG", "T2 AX"]}


def folder_for(workdir: Path, patients: int, part_patients: int) -> Path:
    return workdir / "data" / f"archive-query-{patients}p-{part_patients}"


def _write(out: Path, patients: int, part_patients: int) -> dict[str, Any]:
    pixel_name, pixels = gen_data.pixel_source()
    blocks = [pixels(5000 + k, gen_data.SMALL_SIZE) for k in range(8)]
    rng = random.Random(86420)
    span = (LAST_DAY - FIRST_DAY).days
    parts: list[dict[str, Any]] = []
    study_uids: list[str] = []
    qd_studies: list[str] = []
    n_bytes = n_files = 0
    for p in range(patients):
        part_no = p // part_patients
        if part_no == len(parts):
            parts.append({"name": f"part{part_no + 1}", "studies": 0, "instances": 0})
        part_dir = out / parts[part_no]["name"]
        part_dir.mkdir(parents=True, exist_ok=True)
        name = f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}"
        patient_id = f"AQ{p:07d}"
        birth = (dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365))).strftime(
            "%Y%m%d")
        sex = rng.choice("MF")
        for st in range(2):
            modality = rng.choice(["CT", "MR"])
            sop_class = gen_data.CT_IMAGE_STORAGE if modality == "CT" \
                else gen_data.MR_IMAGE_STORAGE
            date = (FIRST_DAY + dt.timedelta(days=rng.randrange(span + 1))).strftime("%Y%m%d")
            time_ = f"{rng.randrange(7, 20):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}"
            study_uid = gen_data.uid("archive-study", p, st)
            description = rng.choice(DESCRIPTIONS[modality])
            study_uids.append(study_uid)
            if name.startswith(QD_NAME[0]) and QD_DATES[0] <= date <= QD_DATES[1]:
                qd_studies.append(study_uid)
            parts[part_no]["studies"] += 1
            for se in range(2):
                series_uid = gen_data.uid("archive-series", p, st, se)
                for i in range(2):
                    ds = gen_data.image_dataset(
                        sop_class, gen_data.uid("archive-instance", p, st, se, i),
                        gen_data.SMALL_SIZE)
                    ds.Modality = modality
                    ds.PatientName = name
                    ds.PatientID = patient_id
                    ds.PatientBirthDate = birth
                    ds.PatientSex = sex
                    ds.StudyInstanceUID = study_uid
                    ds.SeriesInstanceUID = series_uid
                    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
                    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time_
                    ds.AccessionNumber = f"AQACC{2 * p + st:07d}"
                    ds.StudyID = str(st + 1)
                    ds.StudyDescription = description
                    ds.SeriesDescription = SERIES[modality][se]
                    ds.SeriesNumber = se + 1
                    ds.InstanceNumber = i + 1
                    ds.ImagePositionPatient = [0.0, 0.0, 3.0 * i]
                    ds.PixelData = blocks[(4 * st + 2 * se + i) % len(blocks)]
                    path = part_dir / f"{p:05d}_{st}_{se}_{i}.dcm"
                    ds.save_as(path, enforce_file_format=True)
                    n_bytes += path.stat().st_size
                    n_files += 1
                    parts[part_no]["instances"] += 1
    per_study = 4
    return {
        "format_version": FORMAT_VERSION, "generator": "bench/archive_data.py",
        "pixel_generator": pixel_name, "patients": patients, "part_patients": part_patients,
        "studies": len(study_uids), "instances": n_files, "bytes": n_bytes,
        "instances_per_study": per_study, "parts": parts,
        "queries": {
            "all": {"PatientName": "*", "StudyDate": "", "studies": len(study_uids),
                    "instances": per_study * len(study_uids)},
            "qd": {"PatientName": QD_NAME, "StudyDate": f"{QD_DATES[0]}-{QD_DATES[1]}",
                   "studies": len(qd_studies), "instances": per_study * len(qd_studies),
                   "study_uids": qd_studies},
        },
        "study_uids": study_uids,
    }


def instance_uids(manifest: dict[str, Any]) -> set[str]:
    """The SOP Instance UIDs of the query archive (derived as the files were written)."""
    return {gen_data.uid("archive-instance", p, st, se, i)
            for p in range(int(manifest["patients"]))
            for st in range(2) for se in range(2) for i in range(2)}


def ensure(workdir: Path, patients: int = PATIENTS_DEFAULT,
           part_patients: int = PART_PATIENTS_DEFAULT,
           log: Any = None) -> tuple[Path, dict[str, Any]]:
    """(folder, manifest) of the query archive, generated unless a complete copy exists."""
    folder = folder_for(workdir, patients, part_patients)
    mpath = folder / "manifest.json"
    if mpath.exists():
        manifest: dict[str, Any] = json.loads(mpath.read_text())
        if manifest.get("format_version") == FORMAT_VERSION:
            return folder, manifest
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"generating the query archive ({patients} patients, {8 * patients} instances) "
        f"in {folder} ...")
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        manifest = _write(tmp, patients, part_patients)
        manifest["generation_s"] = round(time.monotonic() - t0, 1)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"  done in {manifest['generation_s']} s ({manifest['bytes'] / 2**20:.1f} MiB, "
        f"{manifest['queries']['qd']['studies']} studies match the A* + date query)")
    return folder, manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", nargs="?", type=Path, default=gen_data.default_workdir())
    ap.add_argument("--patients", type=int, default=PATIENTS_DEFAULT)
    ap.add_argument("--part-patients", type=int, default=PART_PATIENTS_DEFAULT)
    a = ap.parse_args(argv)
    folder, m = ensure(a.workdir, a.patients, a.part_patients)
    print(f"{folder}: {m['instances']} instances, {m['studies']} studies in "
          f"{len(m['parts'])} parts; A* + date query: {m['queries']['qd']['studies']} studies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
