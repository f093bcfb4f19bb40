"""The order lifecycle: every pair of statuses is either an allowed move or refused, and staff make only theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest

from mce.kit.errors import Conflict, Invalid
from mce.services.order.lifecycle import (
    NEXT,
    STAFF_MOVES,
    Status,
    StatusChange,
    allowed_next,
    staff_may,
    transition,
)

AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
C, P, S, D, X, R = (
    Status.CREATED,
    Status.PAID,
    Status.SHIPPED,
    Status.DELIVERED,
    Status.CANCELLED,
    Status.REFUNDED,
)
# Written out by hand from the issue, not derived from the module, so a slip in either shows.
ALLOWED = {(C, P), (P, S), (S, D), (C, X), (P, X), (P, R), (S, R), (D, R)}
BY_STAFF = {(P, S), (S, D), (C, X), (P, X), (P, R), (S, R), (D, R)}
EVERY_PAIR = list(product(Status, repeat=2))


def test_the_statuses_are_the_six_of_the_issue_with_their_wire_names() -> None:
    assert [str(status) for status in Status] == ["created", "paid", "shipped", "delivered", "cancelled", "refunded"]


def test_every_status_has_a_row_in_the_table_so_a_new_one_cannot_slip_through() -> None:
    assert set(NEXT) == set(Status)
    assert {(a, b) for a, nexts in NEXT.items() for b in nexts} == ALLOWED


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_an_allowed_move_gives_the_change_with_its_time_and_reason(current: Status, to: Status) -> None:
    change = transition(current, to, at=AT, reason="because")
    assert change == StatusChange(from_status=current, to_status=to, at=AT, reason="because")


@pytest.mark.parametrize(("current", "to"), [pair for pair in EVERY_PAIR if pair not in ALLOWED])
def test_every_other_move_is_a_conflict_naming_both_statuses_and_what_is_allowed(current: Status, to: Status) -> None:
    with pytest.raises(Conflict) as raised:
        transition(current, to, at=AT)
    message = raised.value.message
    assert f"that is {current} cannot become {to}" in message
    if NEXT[current]:
        assert f"it may only become {', '.join(NEXT[current])}" in message
    else:
        assert f"{current} is final" in message
    assert raised.value.status == 409 and raised.value.details[0]["field"] == "status"


@pytest.mark.parametrize("status", list(Status))
def test_no_status_moves_to_itself(status: Status) -> None:
    with pytest.raises(Conflict):
        transition(status, status, at=AT)


@pytest.mark.parametrize("final", [X, R])
def test_cancelled_and_refunded_orders_never_move_again(final: Status) -> None:
    assert allowed_next(final) == ()
    for to in Status:
        with pytest.raises(Conflict, match=f"{final} is final"):
            transition(final, to, at=AT)


def test_allowed_next_lists_each_statuses_moves_in_the_tables_order() -> None:
    assert allowed_next(C) == (P, X)
    assert allowed_next(P) == (S, X, R)
    assert allowed_next(S) == (D, R)
    assert allowed_next(D) == (R,)


def test_statuses_may_be_given_by_their_wire_names() -> None:
    change = transition("paid", "shipped", at=AT)
    assert (change.from_status, change.to_status) == (P, S) and isinstance(change.to_status, Status)
    assert allowed_next("shipped") == (D, R)


@pytest.mark.parametrize("bogus", ["PAID", "lost", "", " paid", "paid\n"])
def test_an_unknown_status_is_invalid_and_lists_the_real_ones(bogus: str) -> None:
    with pytest.raises(Invalid, match="created, paid, shipped, delivered, cancelled, refunded"):
        transition(bogus, "paid", at=AT)
    with pytest.raises(Invalid):
        transition("created", bogus, at=AT)
    with pytest.raises(Invalid):
        allowed_next(bogus)


def test_a_change_keeps_the_time_it_is_given_in_any_zone() -> None:
    at = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert transition(C, P, at=at).at == at


def test_a_change_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        transition(C, P, at=datetime(2025, 1, 1, 12))


def test_a_change_is_frozen() -> None:
    change = transition(C, P, at=AT)
    with pytest.raises(AttributeError):
        change.to_status = R  # type: ignore[misc]


@pytest.mark.parametrize(("current", "to"), EVERY_PAIR)
def test_staff_make_every_allowed_move_but_marking_an_order_paid(current: Status, to: Status) -> None:
    assert staff_may(current, to) is ((current, to) in BY_STAFF)


def test_only_payment_marks_an_order_paid() -> None:
    assert not staff_may("created", "paid")
    assert ALLOWED - BY_STAFF == {(C, P)}  # noqa: SIM300
    assert STAFF_MOVES == BY_STAFF


def test_staff_moves_are_all_allowed_moves() -> None:
    for current, to in STAFF_MOVES:
        transition(current, to, at=AT)
