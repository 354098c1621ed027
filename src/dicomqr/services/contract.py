"""Handler mistakes become the statuses the seeds name, as one table.

DESIGN.md, the handler contract: what a find, get or move handler gets
wrong is answered to the requestor with an implementation-specific failure
status of the seeds (0xC001, 0xC002, 0xC310-0xC312, 0xC410-0xC413,
0xC510-0xC515), with an Error Comment saying what went wrong, and logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from pydicom import Dataset

from .. import status as _status
from ..uids import QRService

__all__ = ["CONTRACT", "ContractError", "Reply", "Violation", "parse_status"]


class Violation:
    """The ways a handler can break the contract (keys of :data:`CONTRACT`)."""

    NO_STATUS_ELEMENT = "status Dataset without Status (0000,0900)"
    INVALID_STATUS = "status is neither an int nor a Dataset"
    UNDECODABLE_IDENTIFIER = "request identifier cannot be decoded"
    RAISED = "handler raised"
    UNENCODABLE_RESULT = "handler's identifier cannot be encoded"
    BAD_COUNT = "bad sub-operation count"
    NO_DESTINATION_OR_COUNT = "no destination or no sub-operation count"
    BAD_DESTINATION = "invalid destination (address, port)"


_F, _G, _M = QRService.FIND, QRService.GET, QRService.MOVE
_V = Violation

#: (violation, service) -> status code.  Violations that do not depend on
#: the service are listed for each of the three.
CONTRACT: Final[Mapping[tuple[str, QRService], int]] = MappingProxyType({
    **{(_V.NO_STATUS_ELEMENT, s): _status.HANDLER_STATUS_WITHOUT_STATUS_ELEMENT
       for s in (_F, _G, _M)},
    **{(_V.INVALID_STATUS, s): _status.HANDLER_STATUS_INVALID for s in (_F, _G, _M)},
    (_V.UNDECODABLE_IDENTIFIER, _F): _status.FIND_IDENTIFIER_UNDECODABLE,
    (_V.UNDECODABLE_IDENTIFIER, _G): _status.GET_IDENTIFIER_UNDECODABLE,
    (_V.UNDECODABLE_IDENTIFIER, _M): _status.MOVE_IDENTIFIER_UNDECODABLE,
    (_V.RAISED, _F): _status.FIND_HANDLER_RAISED,
    (_V.RAISED, _G): _status.GET_HANDLER_RAISED,
    (_V.RAISED, _M): _status.MOVE_HANDLER_RAISED,
    (_V.UNENCODABLE_RESULT, _F): _status.FIND_RESULT_UNENCODABLE,
    (_V.BAD_COUNT, _G): _status.GET_BAD_SUB_OPERATION_COUNT,
    (_V.BAD_COUNT, _M): _status.MOVE_BAD_SUB_OPERATION_COUNT,
    (_V.NO_DESTINATION_OR_COUNT, _M): _status.MOVE_NO_DESTINATION_OR_COUNT,
    (_V.BAD_DESTINATION, _M): _status.MOVE_BAD_DESTINATION,
})


class ContractError(Exception):
    """A handler broke the contract: answer with :attr:`code`."""

    def __init__(self, violation: str, service: QRService, detail: str) -> None:
        super().__init__(f"{violation}: {detail}")
        self.violation = violation
        self.code = CONTRACT[(violation, service)]
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reply:
    """A status as the service sends it: code and the optional error fields."""

    code: int
    comment: str | None = None
    offending: tuple[int, ...] = ()
    error_id: int | None = None

    def __post_init__(self) -> None:
        # Error Comment (0000,0902) is an LO of the command set: at most 64
        # characters of the default repertoire, no backslash or control
        # characters.  Comments quote handlers' texts and peers' values (a
        # multi-valued level "STUDY\SERIES", a name with accents): made
        # sendable here, or the response could not be encoded at all.
        if self.comment is not None:
            object.__setattr__(self, "comment", _lo(self.comment))

    @property
    def is_pending(self) -> bool:
        return self.code in (_status.PENDING, _status.PENDING_WARNING)


def _lo(text: str) -> str | None:
    safe = "".join("/" if c == "\\" else c if " " <= c <= "~" else "?" for c in text)
    return safe[:64].strip(" ") or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= 0xFFFF else None


def parse_status(value: Any, service: QRService) -> Reply:
    """A handler's status (int or Dataset) as a :class:`Reply`.

    Raises :class:`ContractError` (0xC001 / 0xC002) when it is neither.
    """
    code = _int(value)
    if code is not None:
        return Reply(code)
    if isinstance(value, Dataset):
        if "Status" not in value:
            raise ContractError(Violation.NO_STATUS_ELEMENT, service, "no Status in the Dataset")
        code = _int(value.Status)
        if code is None:
            raise ContractError(Violation.INVALID_STATUS, service,
                                f"Status {value.Status!r} is not a 16-bit value")
        comment = value.get("ErrorComment")
        offending = value.get("OffendingElement")
        if offending is None:
            tags: tuple[int, ...] = ()
        elif isinstance(offending, list | tuple) or hasattr(offending, "__iter__"):
            tags = tuple(int(t) for t in offending)
        else:
            tags = (int(offending),)
        error_id = value.get("ErrorID")
        return Reply(code, str(comment)[:64] if comment else None, tags,
                     int(error_id) if error_id is not None else None)
    raise ContractError(Violation.INVALID_STATUS, service,
                        f"status {value!r} is a {type(value).__name__}")
