"""Splitting a set of files into associations of at most 128 contexts."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomqr import uids
from dicomqr.cli.store import _batches
from dicomqr.services.store_scu import StoreSource, proposals_for

SYNTAXES = [uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN,
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90"]


def source(i: int, cls: int, ts: int) -> StoreSource:
    return StoreSource(Path(f"f{i}"), f"1.2.3.{cls}", f"1.2.3.4.{i}", SYNTAXES[ts], 132)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 150), st.integers(0, len(SYNTAXES) - 1)),
                min_size=1, max_size=400))
def test_batches_fit_and_keep_every_file(files: list[tuple[int, int]]) -> None:
    sources = [source(i, c, t) for i, (c, t) in enumerate(files)]
    batches = _batches(sources)
    assert [s for b in batches for s in b] == sources
    for batch in batches:
        assert batch
        assert len(proposals_for(batch)) <= 128  # raises above 128


def test_many_files_one_class_is_one_batch() -> None:
    sources = [source(i, 1, 0) for i in range(20000)]
    assert len(_batches(sources)) == 1
