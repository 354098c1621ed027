"""The storage SCP's file handling, without a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomqr.services import store
from dicomqr.services.part10 import encode_file_meta, read_file_meta


@pytest.mark.parametrize("native", [True, False], ids=["renameat2", "fallback"])
def test_rename_never_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               native: bool) -> None:
    if not native:
        monkeypatch.setattr(store, "_renameat2", None)
    elif store._renameat2 is None:
        pytest.skip("no renameat2 here")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    assert store._rename_noreplace(str(a), str(c))
    assert c.read_bytes() == b"first" and not a.exists()
    assert not store._rename_noreplace(str(b), str(c))
    assert c.read_bytes() == b"first" and b.read_bytes() == b"second"


@pytest.mark.parametrize("uid", ["../../etc/passwd", "1.2/3", "a" * 65, "1..2", "", "1.2\x00",
                                 "/abs", "1.2.3 ", ".1.2"])
def test_hostile_uids_make_safe_names(uid: str) -> None:
    name = store.safe_file_name(uid)
    assert "/" not in name and "\x00" not in name and name not in ("", ".", "..")
    assert name.startswith("x") and len(name) == 41


def test_good_uid_is_kept() -> None:
    assert store.safe_file_name("1.2.840.10008.5.1.4.1.1.2") == "1.2.840.10008.5.1.4.1.1.2"


def test_file_meta_round_trips_through_pydicom(tmp_path: Path) -> None:
    import pydicom

    header = encode_file_meta(sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
                              sop_instance_uid="1.2.3.4.5", transfer_syntax_uid="1.2.840.10008.1.2",
                              implementation_class_uid="1.2.3", implementation_version_name="V1",
                              source_ae_title="SENDER")
    path = tmp_path / "x.dcm"
    path.write_bytes(header)
    meta = read_file_meta(header)
    assert meta.dataset_offset == len(header)
    assert (meta.sop_class_uid, meta.sop_instance_uid, meta.transfer_syntax_uid,
            meta.source_ae_title) == ("1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5",
                                      "1.2.840.10008.1.2", "SENDER")
    fm = pydicom.filereader.read_file_meta_info(path)
    assert fm.MediaStorageSOPInstanceUID == "1.2.3.4.5"
    assert fm.SourceApplicationEntityTitle == "SENDER"
    assert fm.ImplementationVersionName == "V1"
