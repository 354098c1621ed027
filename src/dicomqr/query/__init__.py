"""The query engine: Query/Retrieve information models, identifier validation and
matching, pure code (no I/O)."""

from __future__ import annotations

from .identifier import InvalidIdentifier, QuerySpec, validate
from .models import (
    MODELS,
    InformationModel,
    Key,
    KeyKind,
    Level,
    model_for,
)

__all__ = [
    "MODELS",
    "InformationModel",
    "InvalidIdentifier",
    "Key",
    "KeyKind",
    "Level",
    "QuerySpec",
    "model_for",
    "validate",
]
