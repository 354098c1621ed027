"""The status tables (PS3.7 Annex C, PS3.4 B.2.3 / C.4 and the seeds' tables).

The expected tables below are typed from the seed documents
(``shared/seeds/000``-``003``), not derived from :mod:`dicomqr.status`.
"""

from __future__ import annotations

import pytest

from dicomqr import status, uids
from dicomqr.status import Category, Service, lookup

S, P, C, W, F = (Category.SUCCESS, Category.PENDING, Category.CANCEL, Category.WARNING,
                 Category.FAILURE)

# (first, last, category), in the seed's order.
SEED_FIND = [
    (0x0000, 0x0000, S), (0x0122, 0x0122, F), (0xFE00, 0xFE00, C),
    (0xA700, 0xA700, F), (0xA900, 0xA900, F), (0xC000, 0xCFFF, F),
    (0xFF00, 0xFF00, P), (0xFF01, 0xFF01, P),
    (0xC001, 0xC001, F), (0xC002, 0xC002, F),
    (0xC310, 0xC310, F), (0xC311, 0xC311, F), (0xC312, 0xC312, F),
]
FRAMES = [(0xAA00, 0xAA00, F), (0xAA01, 0xAA01, F), (0xAA02, 0xAA02, F),
          (0xAA03, 0xAA03, F), (0xAA04, 0xAA04, F)]


def seed_get(frames: bool) -> list[tuple[int, int, Category]]:
    return [
        (0x0000, 0x0000, S), (0x0122, 0x0122, F), (0x0124, 0x0124, F),
        (0x0210, 0x0210, F), (0x0212, 0x0212, F), (0xFE00, 0xFE00, C),
        (0xA701, 0xA701, F), (0xA702, 0xA702, F), (0xA900, 0xA900, F),
        *(FRAMES if frames else []),
        (0xB000, 0xB000, W), (0xC000, 0xCFFF, F), (0xFF00, 0xFF00, P),
        (0xC001, 0xC001, F), (0xC002, 0xC002, F),
        (0xC410, 0xC410, F), (0xC411, 0xC411, F), (0xC413, 0xC413, F),
    ]


def seed_move(frames: bool) -> list[tuple[int, int, Category]]:
    return [
        (0x0000, 0x0000, S), (0x0122, 0x0122, F), (0x0124, 0x0124, F),
        (0x0210, 0x0210, F), (0x0211, 0x0211, F), (0x0212, 0x0212, F),
        (0xFE00, 0xFE00, C),
        (0xA701, 0xA701, F), (0xA702, 0xA702, F), (0xA801, 0xA801, F), (0xA900, 0xA900, F),
        *(FRAMES if frames else []),
        (0xB000, 0xB000, W), (0xC000, 0xCFFF, F), (0xFF00, 0xFF00, P),
        (0xC001, 0xC001, F), (0xC002, 0xC002, F),
        (0xC510, 0xC510, F), (0xC511, 0xC511, F), (0xC513, 0xC513, F),
        (0xC514, 0xC514, F), (0xC515, 0xC515, F),
    ]


# Seeds 001 (Q/R) and 000 (Protocol Approval) list 0xAA00-0xAA04 for
# retrieves; 002 (Defined Procedure Protocol) and 003 (Color Palette) do not.
SEEDS = {
    Service.QR_FIND: SEED_FIND,
    Service.QR_GET: seed_get(frames=True),
    Service.QR_MOVE: seed_move(frames=True),
    Service.DPP_FIND: SEED_FIND,
    Service.DPP_GET: seed_get(frames=False),
    Service.DPP_MOVE: seed_move(frames=False),
    Service.PROTOCOL_APPROVAL_FIND: SEED_FIND,
    Service.PROTOCOL_APPROVAL_GET: seed_get(frames=True),
    Service.PROTOCOL_APPROVAL_MOVE: seed_move(frames=True),
    Service.COLOR_PALETTE_FIND: SEED_FIND,
    Service.COLOR_PALETTE_GET: seed_get(frames=False),
    Service.COLOR_PALETTE_MOVE: seed_move(frames=False),
}

# PS3.4 B.2.3, Table B.2-1
STORAGE = [
    (0x0000, 0x0000, S), (0xA700, 0xA7FF, F), (0xA900, 0xA9FF, F), (0xC000, 0xCFFF, F),
    (0xB000, 0xB000, W), (0xB007, 0xB007, W), (0xB006, 0xB006, W),
]

IMPLEMENTATION_SPECIFIC = {0xC001, 0xC002, 0xC310, 0xC311, 0xC312, 0xC410, 0xC411, 0xC413,
                           0xC510, 0xC511, 0xC513, 0xC514, 0xC515}

# PS3.7 Annex C
GENERAL = {
    0x0000: S, 0x0001: W, 0x0107: W, 0x0116: W,
    0x0105: F, 0x0106: F, 0x0110: F, 0x0111: F, 0x0112: F, 0x0113: F, 0x0114: F,
    0x0115: F, 0x0117: F, 0x0118: F, 0x0119: F, 0x0120: F, 0x0121: F, 0x0122: F,
    0x0123: F, 0x0124: F, 0x0210: F, 0x0211: F, 0x0212: F, 0x0213: F,
    0xFE00: C, 0xFF00: P, 0xFF01: P,
}


def points(first: int, last: int) -> list[int]:
    return sorted({first, (first + last) // 2, last})


# --- the seed tables -----------------------------------------------------------------


def test_every_seed_table_has_its_own_service() -> None:
    assert set(SEEDS) | {Service.STORAGE, Service.VERIFICATION} == set(Service)
    assert set(status.STATUS_TABLES) == set(Service)


@pytest.mark.parametrize("service", list(SEEDS), ids=lambda s: s.name)
def test_table_is_the_seed_table_in_seed_order(service: Service) -> None:
    got = [(e.first, e.last, e.category) for e in status.table(service)]
    assert got == SEEDS[service]


@pytest.mark.parametrize("service", list(SEEDS), ids=lambda s: s.name)
def test_every_seed_code_has_the_seed_category(service: Service) -> None:
    for first, last, category in SEEDS[service]:
        for code in points(first, last):
            info = lookup(code, service)
            assert info.category is category, hex(code)
            assert info.code == code
            assert info.service is service, hex(code)
            assert info.description
            assert status.category_of(code, service) is category
            assert status.describe(code, service) == f"0x{code:04X} {info.description}"


def test_storage_table() -> None:
    got = [(e.first, e.last, e.category) for e in status.table(Service.STORAGE)]
    assert got == STORAGE
    for first, last, category in STORAGE:
        for code in points(first, last):
            assert lookup(code, Service.STORAGE).category is category


def test_implementation_specific_entries_are_dicomqr_handler_statuses() -> None:
    flagged = {e.first for entries in status.STATUS_TABLES.values() for e in entries
               if e.implementation_specific}
    assert flagged == IMPLEMENTATION_SPECIFIC


@pytest.mark.parametrize(("code", "service", "words"), [
    (0xC001, Service.QR_FIND, ["Status", "(0000,0900)"]),
    (0xC002, Service.QR_MOVE, ["int", "Dataset"]),
    (0xC310, Service.QR_FIND, ["C-FIND", "decoded"]),
    (0xC311, Service.QR_FIND, ["find handler", "raised"]),
    (0xC312, Service.QR_FIND, ["could not be encoded"]),
    (0xC410, Service.QR_GET, ["C-GET", "decoded"]),
    (0xC411, Service.QR_GET, ["get handler", "raised"]),
    (0xC413, Service.QR_GET, ["invalid number of sub-operations"]),
    (0xC510, Service.QR_MOVE, ["C-MOVE", "decoded"]),
    (0xC511, Service.QR_MOVE, ["move handler", "raised"]),
    (0xC513, Service.QR_MOVE, ["invalid number of sub-operations"]),
    (0xC514, Service.QR_MOVE, ["no destination", "no number"]),
    (0xC515, Service.QR_MOVE, ["(address, port)"]),
    (0xA701, Service.QR_GET, ["out of resources", "number of matches"]),
    (0xA702, Service.QR_MOVE, ["out of resources", "sub-operations"]),
    (0xA801, Service.QR_MOVE, ["move destination unknown"]),
    (0xAA00, Service.QR_GET, ["none", "frames", "found"]),
    (0xAA01, Service.PROTOCOL_APPROVAL_MOVE, ["create a new object"]),
    (0xAA02, Service.QR_MOVE, ["extract frames"]),
    (0xAA03, Service.QR_GET, ["time-based"]),
    (0xAA04, Service.QR_MOVE, ["invalid request"]),
    (0xFF01, Service.QR_FIND, ["optional keys", "not supported"]),
    (0xFE00, Service.QR_FIND, ["C-CANCEL"]),
    (0xFE00, Service.QR_GET, ["sub-operations", "C-CANCEL"]),
])
def test_descriptions(code: int, service: Service, words: list[str]) -> None:
    text = lookup(code, service).description.lower()
    for word in words:
        assert word.lower() in text, (hex(code), text)


def test_c511_is_the_move_handler_not_the_get_handler() -> None:
    # The seeds say "on_c_get" for 0xC511; DESIGN.md's contract says move.
    assert "get" not in lookup(0xC511, Service.QR_MOVE).description.lower()


# --- codes whose meaning depends on the service ---------------------------------------


def test_b000_depends_on_the_service() -> None:
    assert "coercion" in lookup(0xB000, Service.STORAGE).description.lower()
    for service in (Service.QR_GET, Service.QR_MOVE, Service.DPP_GET,
                    Service.PROTOCOL_APPROVAL_MOVE, Service.COLOR_PALETTE_GET):
        text = lookup(0xB000, service).description.lower()
        assert "sub-operations complete" in text
        assert "failures or warnings" in text
    both = lookup(0xB000)
    assert both.category is W
    assert both.service is None
    assert "coercion" in both.description.lower()
    assert "failures or warnings" in both.description.lower()
    # B000 is not a C-FIND status: the Warning class, no service meaning.
    find = lookup(0xB000, Service.QR_FIND)
    assert find.category is W
    assert find.service is None
    assert "coercion" not in find.description.lower()


def test_cxxx_depends_on_the_service() -> None:
    assert "cannot understand" in lookup(0xC123, Service.STORAGE).description.lower()
    assert "unable to process" in lookup(0xC123, Service.QR_MOVE).description.lower()
    text = lookup(0xC123).description.lower()
    assert "cannot understand" in text
    assert "unable to process" in text


def test_frame_statuses_absent_where_the_seed_has_none() -> None:
    for service in (Service.DPP_GET, Service.DPP_MOVE, Service.COLOR_PALETTE_GET,
                    Service.COLOR_PALETTE_MOVE):
        info = lookup(0xAA00, service)
        assert info.category is F
        assert info.service is None


def test_0211_is_general_for_c_get() -> None:
    # Not in the seeds' C-GET tables, but a PS3.7 general status.
    info = lookup(0x0211, Service.QR_GET)
    assert info.category is F
    assert info.service is None
    assert "unrecognized operation" in info.description.lower()


# --- the general table and the class rules -------------------------------------------


def test_general_table() -> None:
    assert {e.first: e.category for e in status.GENERAL_STATUSES} == GENERAL
    for code, category in GENERAL.items():
        assert lookup(code).category is category
        assert lookup(code).service is None


@pytest.mark.parametrize(("code", "category", "conformant"), [
    (0x0002, F, False), (0x00FF, F, False), (0x0100, F, True), (0x01FF, F, True),
    (0x0250, F, True), (0x02FF, F, True), (0x0300, F, False), (0x9FFF, F, False),
    (0xA000, F, True), (0xA123, F, True), (0xAFFF, F, True), (0xB001, W, True),
    (0xB123, W, True), (0xBFFF, W, True), (0xC999, F, True), (0xD000, F, False),
    (0xFDFF, F, False), (0xFE01, F, False), (0xFF02, F, False), (0xFFFF, F, False),
])
def test_codes_in_no_table(code: int, category: Category, conformant: bool) -> None:
    assert status.is_conformant(code) is conformant
    for service in (None, *Service):
        info = lookup(code, service)
        if service is not None and info.service is service:
            continue  # e.g. 0xC999 in a Cxxx range of that table
        assert info.category is category, (hex(code), service)
        if not conformant:
            assert "unrecognized" in info.description.lower()


def test_every_entry_agrees_with_the_status_class() -> None:
    entries = [*status.GENERAL_STATUSES,
               *(e for es in status.STATUS_TABLES.values() for e in es)]
    for entry in entries:
        assert status.class_category(entry.first) is entry.category, entry
        assert status.class_category(entry.last) is entry.category, entry
        assert status.is_conformant(entry.first) and status.is_conformant(entry.last)


def test_no_table_lists_a_code_twice() -> None:
    for service, entries in status.STATUS_TABLES.items():
        singles = [e.first for e in entries if e.first == e.last]
        assert len(singles) == len(set(singles)), service
        ranges = [(e.first, e.last) for e in entries if e.first != e.last]
        assert len(ranges) == len(set(ranges)), service


def test_lookup_agrees_with_category_of_and_describe_across_the_code_space() -> None:
    for service in (None, *Service):
        for code in range(0, 0x10000, 0x0FF):
            info = lookup(code, service)
            assert info.category is status.class_category(code)
            assert status.category_of(code, service) is info.category
            assert status.describe(code, service) == str(info)


@pytest.mark.parametrize("code", [-1, 0x10000])
def test_not_16_bit(code: int) -> None:
    with pytest.raises(ValueError):
        lookup(code)


# --- services by SOP class -----------------------------------------------------------


@pytest.mark.parametrize(("uid", "service"), [
    (uids.STUDY_ROOT_QR_FIND, Service.QR_FIND),
    (uids.PATIENT_ROOT_QR_GET, Service.QR_GET),
    (uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_MOVE, Service.QR_MOVE),
    (uids.COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET, Service.QR_GET),
    (uids.DEFINED_PROCEDURE_PROTOCOL_MOVE, Service.DPP_MOVE),
    (uids.PROTOCOL_APPROVAL_GET, Service.PROTOCOL_APPROVAL_GET),
    (uids.COLOR_PALETTE_FIND, Service.COLOR_PALETTE_FIND),
    ("1.2.840.10008.5.1.4.1.1.2", Service.STORAGE),  # CT Image Storage
    (uids.VERIFICATION_SOP_CLASS, Service.VERIFICATION),
    ("1.2.840.10008.5.1.4.31", None),  # Modality Worklist FIND: not ours
    ("1.2.3.4", None),
])
def test_service_for_sop_class(uid: str, service: Service | None) -> None:
    assert Service.for_sop_class(uid) is service
    assert lookup(0xB000, uid) == lookup(0xB000, service)


def test_every_qr_sop_class_has_a_table() -> None:
    for sop_class in uids.QR_SOP_CLASSES.values():
        service = Service.for_sop_class(sop_class.uid)
        assert service is not None
        assert service.dimse == f"C-{sop_class.service.value}"
        assert service.service_class == sop_class.model.service_class
        assert status.table(sop_class.uid) is status.table(service)


def test_table_of_unknown_service() -> None:
    with pytest.raises(KeyError):
        status.table("1.2.3.4")


# --- names kept from before -----------------------------------------------------------


def test_existing_names() -> None:
    assert (status.SUCCESS, status.CANCEL, status.PENDING, status.PENDING_WARNING) == (
        0x0000, 0xFE00, 0xFF00, 0xFF01)
    assert status.DUPLICATE_INVOCATION == 0x0210
    assert status.UNRECOGNIZED_OPERATION == 0x0211
    assert status.MISTYPED_ARGUMENT == 0x0212
    assert status.SOP_CLASS_NOT_SUPPORTED == 0x0122
    assert status.NOT_AUTHORIZED == 0x0124
    assert status.PROCESSING_FAILURE == 0x0110
    assert status.OUT_OF_RESOURCES == 0xA700
    assert status.DATASET_DOES_NOT_MATCH_SOP_CLASS == 0xA900
    assert status.CANNOT_UNDERSTAND == 0xC000
    assert status.COERCION_OF_DATA_ELEMENTS == 0xB000
    assert status.DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING == 0xB007
    assert status.ELEMENTS_DISCARDED == 0xB006
    assert status.describe(status.SUCCESS) == "0x0000 Success"
    assert status.category_of(status.PENDING_WARNING) is P
    assert status.category_of(0x0107) is W
    assert status.category_of(0x0116) is W
    assert status.category_of(status.CANCEL) is C


def test_new_names() -> None:
    assert status.OUT_OF_RESOURCES_MATCHES == 0xA701
    assert status.OUT_OF_RESOURCES_SUB_OPERATIONS == 0xA702
    assert status.MOVE_DESTINATION_UNKNOWN == 0xA801
    assert status.SUB_OPERATIONS_WARNING == 0xB000
    assert (status.NO_FRAMES_FOUND, status.INVALID_REQUEST) == (0xAA00, 0xAA04)
    assert status.HANDLER_STATUS_WITHOUT_STATUS_ELEMENT == 0xC001
    assert status.MOVE_BAD_DESTINATION == 0xC515
