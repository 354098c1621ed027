#!/usr/bin/env python3
"""Deterministic synthetic DICOM data for the dicomqr C-STORE benchmark.

Two workloads, both 16-bit MONOCHROME2, Explicit VR Little Endian, Part 10 files:

* ``small-N``: N instances of 64 x 64 pixels (~9 KiB each), CT and MR mixed, spread over
  patients / studies / series (4 instances per series, 2 series per study, 2 studies per
  patient), so the receiver sees realistic UID variety;
* ``large-N``: one CT series of N slices of 512 x 512 pixels (~512 KiB each).

UIDs come from :func:`pydicom.uid.generate_uid` with fixed entropy and the pixels from fixed
seeds, so a rerun (on any machine with the same pydicom/numpy) writes byte-identical files.
numpy is used for the pixels when it is installed; without it (the project's venv does not
install numpy) a ``random.Random`` fallback is used, which is deterministic as well but gives
different pixel bytes -- the manifest records which generator made the files.

A workload folder is written under a temporary name and renamed when complete, and it
carries a ``manifest.json``; a folder with a manifest matching the requested size is reused.

Usage: ``gen_data.py [WORKDIR] [--small N] [--large N]`` (WORKDIR defaults to
``$DICOMQR_BENCH_WORK`` or ``/tmp/dicomqr-bench``; files go to ``WORKDIR/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's example root
IMPLEMENTATION_UID = UID_ROOT + "4242.1"
FORMAT_VERSION = 1  # bump when the content changes, to invalidate caches

SMALL_DEFAULT = 8000
LARGE_DEFAULT = 300
SMALL_SIZE = 64
LARGE_SIZE = 512

SURNAMES = ["ADAMS", "BAKER", "CLARK", "DAVIS", "EVANS", "GARCIA", "HALL", "JONES", "KING",
            "LOPEZ", "MILLER", "NGUYEN", "PARKER", "SMITH", "TAYLOR", "WHITE", "XU", "YOUNG"]
GIVEN = ["ALICE", "BEN", "CHLOE", "DAVID", "EMMA", "FRANK", "GRACE", "IAN", "JULIA", "LIAM",
         "MARIA", "NOAH", "OLIVIA", "PAUL", "SOFIA", "VICTOR", "WEI", "ZOE"]


def default_workdir() -> Path:
    return Path(os.environ.get("DICOMQR_BENCH_WORK") or "/tmp/dicomqr-bench")


def uid(*parts: object) -> str:
    return str(generate_uid(prefix=UID_ROOT, entropy_srcs=[str(p) for p in parts]))


def pixel_source() -> tuple[str, Callable[[int, int], bytes]]:
    """(name, f(seed, side) -> side*side uint16 little-endian pixels in 0..4095)."""
    try:
        import numpy as np
    except ImportError:  # the project's venv has no numpy
        def fallback(seed: int, side: int) -> bytes:
            rng = random.Random(seed)
            out = bytearray(rng.randbytes(2 * side * side))
            out[1::2] = bytes(b & 0x0F for b in out[1::2])  # keep 12 bits used
            return bytes(out)

        return "random.Random", fallback

    def with_numpy(seed: int, side: int) -> bytes:
        rng = np.random.default_rng(seed)
        return bytes(rng.integers(0, 4096, (side, side), dtype="<u2").tobytes())

    return f"numpy {np.__version__} PCG64", with_numpy


def image_dataset(sop_class: str, sop_uid: str, side: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    meta.ImplementationVersionName = "QRBENCH_GEN"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Manufacturer = "DICOMQR BENCH SYNTHETIC"
    ds.InstitutionName = "BENCH GENERAL HOSPITAL"
    ds.Rows = side
    ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = "1.0"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    return ds


def _save(ds: Dataset, path: Path) -> int:
    ds.save_as(path, enforce_file_format=True)
    return path.stat().st_size


def _date(rng: random.Random, first_year: int, end_year: int) -> str:
    year = rng.randrange(first_year, end_year)
    return f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"


def gen_small(out: Path, count: int, pixels: Callable[[int, int], bytes]) -> dict[str, Any]:
    rng = random.Random(20240601)
    # a handful of distinct pixel blocks is enough: the receivers never look at pixels
    blocks = [pixels(1000 + k, SMALL_SIZE) for k in range(16)]
    n_bytes = 0
    per_patient = 16  # 2 studies x 2 series x 4 instances
    for n in range(count):
        p, rest = divmod(n, per_patient)
        st, rest = divmod(rest, 8)
        se, i = divmod(rest, 4)
        if rest == 0 and st == 0:
            name = f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}"
            birth = _date(rng, 1930, 2010)
        if rest == 0:
            modality = rng.choice(["CT", "MR"])
            sdate = _date(rng, 2015, 2025)
        sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
        ds = image_dataset(sop_class, uid("small-instance", n), SMALL_SIZE)
        ds.Modality = modality
        ds.PatientName = name
        ds.PatientID = f"SMALL{p:06d}"
        ds.PatientBirthDate = birth
        ds.PatientSex = "MF"[p % 2]
        ds.StudyInstanceUID = uid("small-study", p, st)
        ds.SeriesInstanceUID = uid("small-series", p, st, se)
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = sdate
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AccessionNumber = f"SACC{p * 2 + st:07d}"
        ds.StudyID = str(st + 1)
        ds.SeriesNumber = se + 1
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.PixelData = blocks[n % len(blocks)]
        n_bytes += _save(ds, out / f"s{n:05d}.dcm")
    return {"instances": count, "bytes": n_bytes, "rows": SMALL_SIZE, "columns": SMALL_SIZE}


def gen_large(out: Path, count: int, pixels: Callable[[int, int], bytes]) -> dict[str, Any]:
    base = pixels(42, LARGE_SIZE)
    row = 2 * LARGE_SIZE
    study, series = uid("large-study"), uid("large-series")
    n_bytes = 0
    for n in range(count):
        ds = image_dataset(CT_IMAGE_STORAGE, uid("large-instance", n), LARGE_SIZE)
        ds.Modality = "CT"
        ds.PatientName = "LARGE^BENCH"
        ds.PatientID = "LARGE000001"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240315"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AccessionNumber = "LACC0000001"
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(n)]
        shift = (n * row * 7) % len(base)  # every slice different, rolled by 7 rows
        ds.PixelData = base[shift:] + base[:shift]
        n_bytes += _save(ds, out / f"l{n:04d}.dcm")
    return {"instances": count, "bytes": n_bytes, "rows": LARGE_SIZE, "columns": LARGE_SIZE}


GENERATORS: dict[str, Callable[[Path, int, Callable[[int, int], bytes]], dict[str, Any]]] = {
    "small": gen_small,
    "large": gen_large,
}


def ensure(workdir: Path, kind: str, count: int, *,
           quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """Return (folder, manifest) of workload ``kind`` with ``count`` instances, generating it
    if the cached copy is missing or was made by another version of this script."""
    data = workdir / "data"
    folder = data / f"{kind}-{count}"
    mpath = folder / "manifest.json"
    if mpath.exists():
        manifest: dict[str, Any] = json.loads(mpath.read_text())
        if manifest.get("format_version") == FORMAT_VERSION and manifest.get("instances") == count:
            return folder, manifest
    pixel_name, pixels = pixel_source()
    tmp = data / f".{kind}-{count}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    if not quiet:
        print(f"generating {count} {kind} instances in {folder} ...", file=sys.stderr, flush=True)
    try:
        manifest = GENERATORS[kind](tmp, count, pixels)
        manifest.update(kind=kind, format_version=FORMAT_VERSION, pixel_generator=pixel_name,
                        generation_s=round(time.monotonic() - t0, 1))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"  done in {manifest['generation_s']} s, {manifest['bytes'] / 2**20:.1f} MiB",
              file=sys.stderr, flush=True)
    return folder, manifest


def data_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", nargs="?", type=Path, default=default_workdir())
    ap.add_argument("--small", type=int, default=SMALL_DEFAULT, help="small instances")
    ap.add_argument("--large", type=int, default=LARGE_DEFAULT, help="large instances")
    a = ap.parse_args(argv)
    for kind, count in (("small", a.small), ("large", a.large)):
        folder, manifest = ensure(a.workdir, kind, count)
        print(f"{folder}: {manifest['instances']} instances, {manifest['bytes']} bytes "
              f"({manifest['pixel_generator']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
