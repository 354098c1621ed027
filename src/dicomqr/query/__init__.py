"""The query engine: Query/Retrieve information models, identifier validation and
matching, pure code (no I/O)."""

from __future__ import annotations

from .identifier import InvalidIdentifier, QuerySpec, validate
from .matching import (
    Kind,
    Term,
    compile_matcher,
    match_dataset,
    match_value,
    terms_of,
    time_partner,
    wildcard_regex,
)
from .models import (
    MODELS,
    InformationModel,
    Key,
    KeyKind,
    Level,
    model_for,
)
from .values import (
    combine_da_tm,
    da_bounds,
    dt_bounds,
    fold_text,
    normalize_da,
    normalize_dt,
    normalize_pn,
    normalize_tm,
    pn_groups,
    tm_bounds,
)

__all__ = [
    "MODELS",
    "InformationModel",
    "InvalidIdentifier",
    "Key",
    "KeyKind",
    "Kind",
    "Level",
    "QuerySpec",
    "Term",
    "combine_da_tm",
    "compile_matcher",
    "da_bounds",
    "dt_bounds",
    "fold_text",
    "match_dataset",
    "match_value",
    "model_for",
    "normalize_da",
    "normalize_dt",
    "normalize_pn",
    "normalize_tm",
    "pn_groups",
    "terms_of",
    "time_partner",
    "tm_bounds",
    "validate",
    "wildcard_regex",
]
