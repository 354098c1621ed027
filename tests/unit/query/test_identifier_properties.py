"""Property tests of the identifier validator (hierarchical models, frame lists)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from dicomqr.query import MODELS, InvalidIdentifier, KeyKind, validate
from dicomqr.uids import QRModel

from .test_identifier import (
    A900,
    AA04,
    CIR_GET,
    CIR_MOVE,
    PR_FIND,
    PR_GET,
    PR_MOVE,
    PRIVATE,
    PRIVATE_CREATOR,
    PSO_FIND,
    PSO_GET,
    PSO_MOVE,
    QRL,
    SR_FIND,
    SR_GET,
    SR_MOVE,
    make,
    tag,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

# -- hierarchical models ---------------------------------------------------------------------------

HIERARCHICAL = [(QRModel.PATIENT_ROOT, PR_FIND, PR_MOVE, PR_GET),
                (QRModel.STUDY_ROOT, SR_FIND, SR_MOVE, SR_GET),
                (QRModel.PATIENT_STUDY_ONLY, PSO_FIND, PSO_MOVE, PSO_GET)]

uid_values = st.from_regex(r"[1-9][0-9]{0,3}(\.[1-9][0-9]{0,3}){1,4}", fullmatch=True)


def set_empty(ds: Dataset, keyword: str) -> None:
    t = tag(keyword)
    setattr(ds, keyword, [] if dictionary_VR(t) == "SQ" else None)


@st.composite
def hierarchical_find(draw: st.DrawFn) -> tuple[QRModel, str, str, Dataset, set[int]]:
    model_id, find, _, _ = draw(st.sampled_from(HIERARCHICAL))
    model = MODELS[model_id]
    level = draw(st.sampled_from(model.level_names))
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for above in model.levels_above(level):
        key = model.unique_key(above.name)
        setattr(ds, key.keyword, draw(uid_values))
    here = model.keys_at(level)
    for key in draw(st.lists(st.sampled_from(here), unique=True, max_size=len(here))):
        set_empty(ds, key.keyword)  # universal matching: a return key
    below = [k for lv in model.levels[model.level_names.index(level) + 1:] for k in lv.keys]
    if below:
        for key in draw(st.lists(st.sampled_from(below), unique=True, max_size=3)):
            set_empty(ds, key.keyword)
    if draw(st.booleans()):
        ds.add_new(PRIVATE_CREATOR, "LO", "ACME")
        ds.add_new(PRIVATE, "LO", "x")
    keys = {int(t) for t in sorted(ds.keys())} - {QRL}
    return model_id, find, level, ds, keys


@settings(max_examples=300, deadline=None)
@given(hierarchical_find())
def test_property_valid_hierarchical_find_accepted(
        case: tuple[QRModel, str, str, Dataset, set[int]]) -> None:
    _, find, level, ds, keys = case
    for relational in (False, True):
        spec = validate(ds, find, relational=relational)
        assert spec.level == level
        assert set(spec.keys) == keys
        assert list(spec.keys) == sorted(spec.keys)


@settings(max_examples=300, deadline=None)
@given(hierarchical_find(), st.data())
def test_property_non_unique_key_above_refused_unless_relational(
        case: tuple[QRModel, str, str, Dataset, set[int]], data: st.DataObject) -> None:
    model_id, find, level, ds, _ = case
    model = MODELS[model_id]
    above = [k for lv in model.levels_above(level) for k in lv.keys
             if k.kind is not KeyKind.UNIQUE]
    if not above:
        return  # the top level has nothing above
    key = data.draw(st.sampled_from(above))
    set_empty(ds, key.keyword)
    with pytest.raises(InvalidIdentifier) as caught:
        validate(ds, find)
    assert caught.value.status == A900
    assert caught.value.offending == (key.tag,)
    assert validate(ds, find, relational=True).level == level


@settings(max_examples=300, deadline=None)
@given(hierarchical_find(), st.data())
def test_property_missing_unique_key_above_refused_unless_relational(
        case: tuple[QRModel, str, str, Dataset, set[int]], data: st.DataObject) -> None:
    model_id, find, level, ds, _ = case
    model = MODELS[model_id]
    uniques = [model.unique_key(lv.name) for lv in model.levels_above(level)]
    if not uniques:
        return
    key = data.draw(st.sampled_from(uniques))
    del ds[key.tag]
    with pytest.raises(InvalidIdentifier) as caught:
        validate(ds, find)
    assert caught.value.offending == (key.tag,)
    validate(ds, find, relational=True)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(HIERARCHICAL), st.data(), st.booleans())
def test_property_retrieve(model_row: tuple[QRModel, str, str, str], data: st.DataObject,
                           relational: bool) -> None:
    model_id, _, move, get = model_row
    model = MODELS[model_id]
    level = data.draw(st.sampled_from(model.level_names))
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for above in model.levels_above(level):
        setattr(ds, model.unique_key(above.name).keyword, data.draw(uid_values))
    key = model.unique_key(level)
    many = 1 if level == "PATIENT" else 4
    values = data.draw(st.lists(uid_values, min_size=1, max_size=many))
    setattr(ds, key.keyword, values if len(values) > 1 else values[0])
    for uid in (move, get):
        assert validate(ds, uid, relational=relational).level == level
    # A list in a unique key above the level is refused, relational or not.
    aboves = model.levels_above(level)
    if aboves:
        upper = model.unique_key(data.draw(st.sampled_from(aboves)).name)
        setattr(ds, upper.keyword, ["1.2", "1.3"])
        with pytest.raises(InvalidIdentifier) as caught:
            validate(ds, move, relational=relational)
        assert caught.value.offending == (upper.tag,)
    # Without the level's unique key there is nothing to retrieve.
    del ds[key.tag]
    with pytest.raises(InvalidIdentifier):
        validate(ds, get, relational=relational)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=20))
def test_property_simple_frame_list(frames: list[int]) -> None:
    ds = make(QueryRetrieveLevel="FRAME", SOPInstanceUID="1.2", SimpleFrameList=frames)
    increasing = all(a < b for a, b in pairwise(frames))
    if increasing:
        assert validate(ds, CIR_GET).level == "FRAME"
    else:
        with pytest.raises(InvalidIdentifier) as caught:
            validate(ds, CIR_GET)
        assert caught.value.status == AA04


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 5)),
                min_size=1, max_size=4))
def test_property_calculated_frame_list(triplets: list[tuple[int, int, int]]) -> None:
    # Reference: expand the tuples and check the Y.3.2.1.2 rules on the frames.
    frames: list[int] = []
    ok = True
    for first, last, step in triplets:
        if last < first:
            ok = False
            break
        frames += range(first, last + 1, step)
    ok = ok and all(a < b for a, b in pairwise(frames))
    flat = [n for t in triplets for n in t]
    ds = make(QueryRetrieveLevel="FRAME", SOPInstanceUID="1.2", CalculatedFrameList=flat)
    if ok:
        validate(ds, CIR_MOVE)
    else:
        with pytest.raises(InvalidIdentifier) as caught:
            validate(ds, CIR_MOVE)
        assert caught.value.status == AA04
