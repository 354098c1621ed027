"""The query engine: Query/Retrieve information models and matching, pure code (no I/O)."""

from __future__ import annotations

from .models import (
    MODELS,
    InformationModel,
    Key,
    KeyKind,
    Level,
    model_for,
)

__all__ = ["MODELS", "InformationModel", "Key", "KeyKind", "Level", "model_for"]
