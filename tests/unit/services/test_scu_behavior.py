"""The SCU behaviour table (PS3.2 Annex N.7.3.2.7, seed 004).

The seed rows below are typed from the seed: service status, code and (for
C-MOVE) related fields, in the seed's order.
"""

from __future__ import annotations

import pytest

from dicomqr import status, uids
from dicomqr.services.scu_behavior import ROWS, Action, Behavior, behavior, rows
from dicomqr.status import Category
from dicomqr.uids import QRService

S, P, C, W, F = (Category.SUCCESS, Category.PENDING, Category.CANCEL, Category.WARNING,
                 Category.FAILURE)
COUNTS = "(0000,1020) (0000,1021) (0000,1022) (0000,1023)"

# Table N.7-48: category, code, action
SEED_FIND = [
    (S, "0000", Action.COMPLETE),
    (F, "A700", Action.REPORT_FAILURE),
    (F, "A900", Action.REPORT_FAILURE),
    (F, "C000-CFFF", Action.REPORT_FAILURE),
    (F, "0122", Action.REPORT_FAILURE),
    (C, "FE00", Action.REPORT_CANCEL),
    (P, "FF00", Action.CONTINUE),
    (P, "FF01", Action.CONTINUE_WITH_WARNING),
]

# Table N.7-49: category, code, related fields, action ("Cxxx" is C000-CFFF)
SEED_MOVE = [
    (S, "0000", COUNTS, Action.COMPLETE),
    (W, "B000", "(0000,1020) (0000,1022) (0000,1023)", Action.REPORT_WARNING),
    (F, "A701", "(0000,0902)", Action.REPORT_FAILURE),
    (F, "A702", COUNTS, Action.REPORT_FAILURE),
    (F, "A801", "(0000,0902)", Action.REPORT_FAILURE),
    (F, "A900", "(0000,0901) (0000,0902)", Action.REPORT_FAILURE),
    (F, "C000-CFFF", "(0000,0901) (0000,0902)", Action.REPORT_FAILURE),
    (C, "FE00", COUNTS, Action.REPORT_CANCEL),
    (P, "FF00", COUNTS, Action.CONTINUE),
]

# Codes the seeds' status tables add to the template (rows "for each
# additional status code").
ADDED_MOVE = ["0122", "0124", "0210", "0211", "0212", "AA00", "AA01", "AA02", "AA03", "AA04"]
ADDED_GET = ["0122", "0124", "0210", "0212", "AA00", "AA01", "AA02", "AA03", "AA04"]


def listed(service: QRService) -> list[Behavior]:
    return [row for row in rows(service) if not row.is_other]


def test_find_rows_in_seed_order() -> None:
    got = [(row.category, row.code_text, row.action) for row in listed(QRService.FIND)]
    assert got == SEED_FIND


def test_move_rows_in_seed_order() -> None:
    got = [(row.category, row.code_text, row.related_fields_text, row.action)
           for row in listed(QRService.MOVE) if row.code_text not in ADDED_MOVE]
    assert got == SEED_MOVE
    codes = [row.code_text for row in listed(QRService.MOVE)]
    assert [code for code in codes if code in ADDED_MOVE] == ADDED_MOVE
    # added rows come after the template's failure rows, before Cancel
    assert codes.index("C000-CFFF") < codes.index("0122") < codes.index("FE00")


def test_get_rows_follow_the_move_layout() -> None:
    move = [(r.category, r.code_text, r.related_fields_text, r.action)
            for r in listed(QRService.MOVE) if r.code_text not in ("A801", "0211")]
    get = [(r.category, r.code_text, r.related_fields_text, r.action)
           for r in listed(QRService.GET)]
    assert get == move
    assert [r.code_text for r in listed(QRService.GET) if r.code_text in ADDED_GET] == ADDED_GET


@pytest.mark.parametrize("service", list(QRService))
def test_other_row_is_last_and_only_once(service: QRService) -> None:
    table = list(rows(service))
    assert table[-1].is_other
    assert table[-1].code_text == "anything else"
    assert table[-1].category is None
    assert table[-1].action is Action.BY_STATUS_CLASS
    assert sum(row.is_other for row in table) == 1
    assert all(row.text and row.meaning and row.source for row in table)


@pytest.mark.parametrize("service", list(QRService))
def test_each_row_answers_for_its_codes(service: QRService) -> None:
    for row in listed(service):
        assert row.first is not None and row.last is not None
        for code in sorted({row.first, (row.first + row.last) // 2, row.last}):
            got = behavior(service, code)
            assert got is row, (service, hex(code))
            assert got.category is status.category_of(code)
            assert got.action.is_final is (got.category is not P)


def test_cxxx_covers_implementation_specific_codes() -> None:
    for service, codes in ((QRService.FIND, (0xC001, 0xC310, 0xC312)),
                           (QRService.GET, (0xC002, 0xC410, 0xC413)),
                           (QRService.MOVE, (0xC511, 0xC514, 0xC515))):
        for code in codes:
            assert behavior(service, code).code_text == "C000-CFFF"


@pytest.mark.parametrize(("table", "service"), [
    (status.Service.QR_FIND, QRService.FIND),
    (status.Service.QR_GET, QRService.GET),
    (status.Service.QR_MOVE, QRService.MOVE),
    (status.Service.DPP_MOVE, QRService.MOVE),
    (status.Service.PROTOCOL_APPROVAL_GET, QRService.GET),
    (status.Service.COLOR_PALETTE_FIND, QRService.FIND),
])
def test_every_code_of_the_status_tables_has_a_row(table: status.Service,
                                                   service: QRService) -> None:
    for entry in status.table(table):
        for code in (entry.first, entry.last):
            row = behavior(service, code)
            assert not row.is_other, (table, hex(code))
            assert row.category is entry.category


@pytest.mark.parametrize(("service", "code", "category", "action"), [
    (QRService.FIND, 0xB000, W, Action.REPORT_WARNING),   # no B000 for C-FIND
    (QRService.FIND, 0xB123, W, Action.REPORT_WARNING),
    (QRService.FIND, 0x0211, F, Action.REPORT_FAILURE),
    (QRService.FIND, 0xA801, F, Action.REPORT_FAILURE),
    (QRService.FIND, 0xD000, F, Action.REPORT_FAILURE),    # outside every class
    (QRService.FIND, 0xFFFF, F, Action.REPORT_FAILURE),
    (QRService.MOVE, 0xFF01, P, Action.CONTINUE),         # Pending class
    (QRService.MOVE, 0x0107, W, Action.REPORT_WARNING),
    (QRService.MOVE, 0xA700, F, Action.REPORT_FAILURE),
    (QRService.GET, 0xA801, F, Action.REPORT_FAILURE),
    (QRService.GET, 0x0211, F, Action.REPORT_FAILURE),
    (QRService.GET, 0x0300, F, Action.REPORT_FAILURE),
])
def test_other_status_codes(service: QRService, code: int, category: Category,
                            action: Action) -> None:
    got = behavior(service, code)
    assert got.is_other
    assert got.category is category
    assert got.action is action
    assert got.text == list(rows(service))[-1].text


def test_service_spellings() -> None:
    row = behavior(QRService.MOVE, 0xA801)
    assert behavior("MOVE", 0xA801) is row
    assert behavior("c-move", 0xA801) is row
    assert behavior(uids.STUDY_ROOT_QR_MOVE, 0xA801) is row
    assert behavior(uids.COLOR_PALETTE_MOVE, 0xA801) is row
    assert list(rows(uids.PATIENT_ROOT_QR_FIND)) == list(ROWS[QRService.FIND])
    with pytest.raises(ValueError):
        behavior("STORE", 0)
    with pytest.raises(ValueError):
        behavior("1.2.3.4", 0)
    with pytest.raises(ValueError):
        behavior(QRService.FIND, 0x10000)


def test_actions() -> None:
    assert not Action.CONTINUE.is_final
    assert not Action.CONTINUE_WITH_WARNING.is_final
    for action in (Action.COMPLETE, Action.REPORT_WARNING, Action.REPORT_FAILURE,
                   Action.REPORT_CANCEL):
        assert action.is_final
    assert behavior(QRService.GET, 0xA702).related_fields == (0x00001020, 0x00001021,
                                                              0x00001022, 0x00001023)
    assert behavior(QRService.FIND, 0xFF00).related_fields_text == "-"
    assert 0xC123 in behavior(QRService.FIND, 0xC123)
    assert 0xD000 not in behavior(QRService.FIND, 0xD000)
