"""The archive server's settings: defaults, a TOML file, command-line overrides.

A configuration file (``dicomqr serve --config FILE``) holds the same
settings as the command line::

    ae_title = "DICOMQR"
    host = "0.0.0.0"
    port = 11112
    archive = "/srv/dicom"           # files, and the SQLite index by default
    db = "postgresql+psycopg://user:password@dbhost/dicomqr"   # optional
    duplicates = "keep"              # keep | replace | reject
    fsync = false
    workers = 2                      # processes serving (default 1)

    [destinations]                   # C-MOVE destinations
    WORKSTATION = "10.0.0.7:104"

    [access]                         # calling AE titles; "*" or absent: anyone
    store = ["CT1", "MR1"]
    query = ["*"]
    retrieve = ["WORKSTATION"]

Options given on the command line win over the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import DicomqrError
from .index import DUPLICATE_POLICIES

__all__ = [
    "AccessRules",
    "ArchiveConfig",
    "ConfigError",
    "access_titles",
    "load_config",
    "parse_destination",
]


class ConfigError(DicomqrError):
    """A setting that cannot be used, with what is wrong with it."""


@dataclass(frozen=True, slots=True)
class AccessRules:
    """Which calling AE titles may store, query and retrieve (None: anyone)."""

    store: frozenset[str] | None = None
    query: frozenset[str] | None = None
    retrieve: frozenset[str] | None = None

    def allows(self, what: str, calling_ae: str) -> bool:
        titles: frozenset[str] | None = getattr(self, what)
        return titles is None or calling_ae.strip() in titles

    def callers(self) -> frozenset[str] | None:
        """The calling AE titles that may do anything (None: anyone).  Others
        are rejected at association time."""
        rules = (self.store, self.query, self.retrieve)
        if any(r is None for r in rules):
            return None
        return frozenset().union(*(r for r in rules if r is not None))


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """Everything ``dicomqr serve`` runs with."""

    ae_title: str = "DICOMQR"
    host: str = ""
    port: int = 11112
    archive: str = "archive"
    db: str | None = None
    duplicates: str = "keep"
    fsync: bool = False
    workers: int = 1
    destinations: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    access: AccessRules = AccessRules()
    require_called_aet: bool = False
    max_pdu: int | None = None
    max_associations: int | None = None
    max_connections: int | None = None
    idle_timeout: float | None = None
    artim_timeout: float | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    @property
    def db_url(self) -> str:
        """The index database: ``db``, or SQLite inside the archive folder."""
        if self.db:
            return self.db
        return "sqlite:///" + os.path.join(os.path.abspath(self.archive), "index.sqlite")

    def check(self) -> ArchiveConfig:
        """Raise :class:`ConfigError` for a setting that cannot be used."""
        for name, kind in (("ae_title", str), ("host", str), ("archive", str),
                           ("db", (str, type(None))), ("fsync", bool),
                           ("require_called_aet", bool)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"{name} = {getattr(self, name)!r}: wrong type")
        for name in ("max_pdu", "max_associations", "max_connections"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} = {value!r}: a positive number")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ConfigError(f"duplicates = {self.duplicates!r}: use one of "
                              + ", ".join(DUPLICATE_POLICIES))
        if not isinstance(self.workers, int) or not 1 <= self.workers <= 64:
            raise ConfigError(f"workers = {self.workers!r}: a number from 1 to 64")
        if not isinstance(self.port, int) or not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is not a TCP port")
        if not self.ae_title or len(self.ae_title) > 16:
            raise ConfigError(f"AE title {self.ae_title!r} must be 1 to 16 characters")
        return self


def parse_destination(text: str) -> tuple[str, tuple[str, int]]:
    """``AE=HOST:PORT`` -> (AE, (HOST, PORT))."""
    ae, sep, where = text.partition("=")
    host, colon, port = where.rpartition(":")
    if not sep or not colon or not ae.strip() or not host:
        raise ConfigError(f"destination {text!r}: write it as AE=HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"destination {text!r}: port {port!r} is not a number") from None
    if not 0 < number < 65536 or len(ae.strip()) > 16:
        raise ConfigError(f"destination {text!r}: bad AE title or port")
    return ae.strip(), (host.strip("[]"), number)


def access_titles(value: Any, what: str) -> frozenset[str] | None:
    """An access rule's AE titles (a list, or a comma-separated string); None
    (anyone) when absent or when it holds "*"."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"access.{what}: a list of AE titles")
    titles = frozenset(v.strip() for v in value)
    return None if "*" in titles else titles


def _from_mapping(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    known = {f.name for f in fields(ArchiveConfig)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name == "destinations":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: [destinations] maps AE titles to \"HOST:PORT\"")
            out[name] = dict(parse_destination(f"{ae}={v}") for ae, v in value.items())
        elif name == "access":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: [access] has store/query/retrieve lists")
            unknown = set(value) - {"store", "query", "retrieve"}
            if unknown:
                raise ConfigError(f"{where}: unknown access rule(s) {sorted(unknown)}")
            out[name] = AccessRules(**{k: access_titles(v, k) for k, v in value.items()})
        elif name in known:
            out[name] = value
        else:
            raise ConfigError(f"{where}: unknown setting {key!r}")
    return out


def load_config(path: str | os.PathLike[str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> ArchiveConfig:
    """The settings of a TOML file (if any) with ``overrides`` on top
    (None values in ``overrides`` mean "not given")."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        values = _from_mapping(data, str(p))
    config = ArchiveConfig(**values)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:
        config = replace(config, **given)
    try:
        return config.check()
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
