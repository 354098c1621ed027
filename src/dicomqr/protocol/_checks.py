"""Construction-time checks shared by the item and PDU dataclasses (private).

Every public dataclass of :mod:`.items` and :mod:`.pdu` validates its
fields in ``__post_init__`` with these helpers and raises
:class:`~dicomqr.protocol.errors.LocalProtocolError`: a value our own
caller supplied breaks PS3.8 / PS3.7.

Decoders do **not** go through ``__init__``: they call :func:`build`, which
fills the slots of a frozen dataclass directly.  That keeps decoding fast
and lets it stay lenient where the standard says a received field is "not
tested" (reserved fields, the AE titles of an A-ASSOCIATE-AC, the transfer
syntax of a rejected presentation context), so a decoded object may hold
values that a caller could not construct.
"""

from __future__ import annotations

import re
from typing import TypeVar

from .errors import LocalProtocolError

T = TypeVar("T")

_object_new = object.__new__
_object_setattr = object.__setattr__

# PS3.5 §9.1: components of digits separated by ".", at most 64 characters.
_UID_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*\Z")
# AE VR (PS3.5 §6.2): default repertoire without backslash and control characters.
_AE_RE = re.compile(r"[\x20-\x5b\x5d-\x7e]*\Z")
# ISO 646 basic G0 set, printable (PS3.7 D.3.3.2 implementation version name).
_G0_RE = re.compile(r"[\x20-\x7e]*\Z")


def build(cls: type[T], /, **fields: object) -> T:
    """Make an instance of the frozen dataclass ``cls`` without validation.

    For decoders only: the field values come from the wire and have been
    checked as far as the standard requires.
    """
    obj = _object_new(cls)
    for name, value in fields.items():
        _object_setattr(obj, name, value)
    return obj


def set_field(obj: object, name: str, value: object) -> None:
    """Store a normalised value on a frozen dataclass from ``__post_init__``."""
    _object_setattr(obj, name, value)


def fail(message: str) -> LocalProtocolError:
    """Return (for ``raise``) the error for an invalid constructor argument."""
    return LocalProtocolError(message)


def check_uint(name: str, value: object, maximum: int, minimum: int = 0) -> int:
    """Check an integer field in ``minimum..maximum`` (``bool`` is refused)."""
    if type(value) is not int or not minimum <= value <= maximum:
        raise fail(f"{name} must be an integer in {minimum}..{maximum}, not {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Check a flag field is a real ``bool``."""
    if type(value) is not bool:
        raise fail(f"{name} must be a bool, not {value!r}")
    return value


def check_bytes(name: str, value: object, maximum: int) -> None:
    """Check a bytes field (bytes, bytearray or memoryview) of at most ``maximum`` bytes."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise fail(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) > maximum:
        raise fail(f"{name} is {len(value)} bytes long; at most {maximum} fit")


def check_context_id(name: str, value: object) -> int:
    """PS3.8 §9.3.2.2: presentation context IDs are odd integers in 1..255."""
    if type(value) is not int or not 1 <= value <= 255 or not value & 1:
        raise fail(f"{name} must be an odd integer in 1..255, not {value!r}")
    return value


def check_uid(name: str, value: object) -> str:
    """PS3.5 §9.1 UID: 1 to 64 characters of digits and dots."""
    # str subclasses are fine: pydicom hands out UIDs as its ``UID`` class
    if not isinstance(value, str) or len(value) > 64 or not _UID_RE.match(value):
        raise fail(f"{name} must be a UID (digits and dots, 1..64 characters), not {value!r}")
    return value


def check_ae_title(name: str, value: object) -> str:
    """PS3.5 AE VR as used in PS3.8 Table 9-11; returns it without padding spaces.

    Leading and trailing spaces are not significant, so they are removed;
    what remains must be 1..16 characters of the default repertoire without
    backslash or control characters.
    """
    if type(value) is not str:
        raise fail(f"{name} must be a str, not {type(value).__name__}")
    stripped = value.strip(" ")
    if not stripped or len(stripped) > 16 or not _AE_RE.match(stripped):
        raise fail(
            f"{name} must be 1..16 characters without backslash or control "
            f"characters, not {value!r}"
        )
    return stripped


def check_reserved_ae(name: str, value: object) -> str:
    """An AE title field of the A-ASSOCIATE-AC (PS3.8 Table 9-17).

    These fields are reserved: sent back as received in the A-ASSOCIATE-RQ
    and never tested, so anything that fits 16 bytes is accepted.
    """
    if type(value) is not str:
        raise fail(f"{name} must be a str, not {type(value).__name__}")
    stripped = value.strip(" ")
    try:
        encoded = stripped.encode("latin-1")
    except UnicodeEncodeError:
        raise fail(f"{name} must be encodable in 16 bytes, not {value!r}") from None
    if len(encoded) > 16:
        raise fail(f"{name} must be at most 16 characters, not {value!r}")
    return stripped


def check_g0_string(name: str, value: object, maximum: int) -> str:
    """1..``maximum`` printable ISO 646 characters (PS3.7 D.3.3.2)."""
    if type(value) is not str or not 1 <= len(value) <= maximum or not _G0_RE.match(value):
        raise fail(f"{name} must be 1..{maximum} printable ASCII characters, not {value!r}")
    return value


def check_tuple(name: str, value: object, item_type: type[T]) -> tuple[T, ...]:
    """Normalise a list/tuple field to a tuple and check the type of its members."""
    if not isinstance(value, tuple | list):
        raise fail(f"{name} must be a tuple, not {type(value).__name__}")
    result = tuple(value)
    for member in result:
        if not isinstance(member, item_type):
            raise fail(f"{name} must hold {item_type.__name__}, not {type(member).__name__}")
    return result
