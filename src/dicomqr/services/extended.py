"""SOP class extended negotiation of the Q/R SOP classes (PS3.4 C.5).

The Service-Class-Application-Information field of the SOP Class Extended
Negotiation sub-item (PS3.7 D.3.3.5) is a row of flag bytes, 1 meaning
"supported":

- C-FIND (PS3.4 C.5.1.1, Tables C.5-1/C.5-2): byte 1 relational queries,
  byte 2 combined date and time range matching, byte 3 fuzzy semantic
  matching of person names, byte 4 timezone query adjustment, byte 5
  enhanced multi-frame image conversion.
- C-MOVE and C-GET (C.5.2.1 / C.5.3.1, Tables C.5-5 to C.5-10): byte 1
  relational retrieval, byte 2 enhanced multi-frame image conversion.
- Composite Instance Root Retrieve and Without Bulk Data (Y.5.1.1): byte 1
  unused (0), byte 2 enhanced multi-frame image conversion.
- Color Palette, Defined Procedure Protocol and Protocol Approval C-FIND
  (X.5, HH.5, II.5, which point to the Basic Worklist layout of K.5): bytes
  1 and 2 are always 1 (relational queries are not offered; the bytes are
  kept as sent), byte 3 fuzzy semantic matching of person names, byte 4
  timezone query adjustment.  Their C-MOVE and C-GET have no extended
  behaviour, so nothing is granted there.

A requestor may send fewer bytes than defined (the missing ones mean "not
requested"); the acceptor answers with as many bytes as were proposed,
each 1 only where it was proposed and is supported (PS3.7 D.3.3.5: the
reply may not grant what was not asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from ..uids import QRModel, QRService, qr_sop_class
from .handlers import NO_EXTENDED, ExtendedOptions

__all__ = ["decode", "encode", "reply_hook"]

_FIND_FIELDS: Final = ("relational", "date_time_matching", "fuzzy_matching",
                       "timezone_adjustment", "enhanced_conversion")
_RETRIEVE_FIELDS: Final = ("relational", "enhanced_conversion")
# "" marks a byte with no option behind it.
_INSTANCE_ROOT_FIELDS: Final = ("", "enhanced_conversion")
_WORKLIST_STYLE_FIELDS: Final = ("", "", "fuzzy_matching", "timezone_adjustment")
_SINGLE_ENTITY: Final = frozenset({QRModel.COLOR_PALETTE, QRModel.DEFINED_PROCEDURE_PROTOCOL,
                                   QRModel.PROTOCOL_APPROVAL})


def _fields(service: QRService, model: QRModel | None = None) -> tuple[str, ...]:
    if model in _SINGLE_ENTITY:
        return _WORKLIST_STYLE_FIELDS if service is QRService.FIND else ()
    if model in (QRModel.COMPOSITE_INSTANCE_ROOT, QRModel.WITHOUT_BULK_DATA):
        return _INSTANCE_ROOT_FIELDS
    return _FIND_FIELDS if service is QRService.FIND else _RETRIEVE_FIELDS


def encode(service: QRService, options: ExtendedOptions,
           model: QRModel | None = None) -> bytes:
    """The application information an SCU proposes for ``options``."""
    names = _fields(service, model)
    fixed = 1 if model in _SINGLE_ENTITY else 0
    flags = [(1 if getattr(options, name) else 0) if name else fixed for name in names]
    while flags and flags[-1] == 0:
        flags.pop()
    if not any(getattr(options, name) for name in names if name):
        return b""
    return bytes(flags)


def decode(service: QRService, info: bytes, model: QRModel | None = None) -> ExtendedOptions:
    """The options ``info`` asks for or grants (bytes beyond the defined ones
    are ignored)."""
    names = _fields(service, model)
    return ExtendedOptions(**{name: len(info) > i and info[i] == 1
                              for i, name in enumerate(names) if name})


def answer(service: QRService, proposed: bytes, supported: ExtendedOptions,
           model: QRModel | None = None) -> bytes:
    """The acceptor's reply to ``proposed`` when it supports ``supported``."""
    names = _fields(service, model)
    out = bytearray(len(proposed))
    for i in range(len(proposed)):
        if i < len(names) and not names[i]:
            out[i] = proposed[i] if model in _SINGLE_ENTITY else 0
        else:
            out[i] = 1 if (i < len(names) and proposed[i] == 1
                           and getattr(supported, names[i])) else 0
    return bytes(out)


def reply_hook(supported: Callable[[str], ExtendedOptions]
               ) -> Callable[[str, bytes], bytes | None]:
    """An ``AcceptorPolicy.extended_negotiation`` hook answering for the Q/R
    SOP classes with what ``supported(sop_class_uid)`` says."""
    def hook(uid: str, info: bytes) -> bytes | None:
        row = qr_sop_class(uid)
        if row is None:
            return None
        return answer(row.service, info, supported(uid), row.model)
    return hook


def negotiated(agreed: Mapping[str, bytes], sop_class_uid: str) -> ExtendedOptions:
    """The options agreed for ``sop_class_uid`` (from the accepted replies)."""
    info = agreed.get(sop_class_uid)
    row = qr_sop_class(sop_class_uid)
    if info is None or row is None:
        return NO_EXTENDED
    return decode(row.service, info, row.model)
