"""The shared stream vectors are well formed, and the pure window module gives exactly their expected windows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mce.kit.contracts import ActivityPayload, WindowPayload
from mce.stream.windows import UniqueUsersWindows
from tests.stream_vectors import VECTORS, StreamCase, case_names, load_case

CASES = case_names()


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> StreamCase:
    return load_case(request.param)


def test_the_vectors_cover_every_kind_of_case_the_job_must_get_right() -> None:
    assert {"in_order", "out_of_order", "late", "boundaries", "many_users_many_windows"} <= set(CASES)


def test_every_event_is_an_activity_payload_and_every_result_a_window_payload(case: StreamCase) -> None:
    for event in case.events:
        ActivityPayload.model_validate(event)
    for window in case.expected:
        WindowPayload.model_validate(window)
    assert [w["window_start"] for w in case.expected] == sorted({w["window_start"] for w in case.expected})
    assert case.description and case.out_of_orderness_ms >= 0 and case.late_events >= 0


def test_the_expected_windows_account_for_every_event_that_is_not_late(case: StreamCase) -> None:
    assert sum(w["event_count"] for w in case.expected) + case.late_events == len(case.events)


def test_the_window_module_gives_each_cases_expected_windows_and_late_count(case: StreamCase) -> None:
    windows = UniqueUsersWindows(case.out_of_orderness_ms)
    closed = windows.add_many((e["user_id"], e["timestamp"] * 1000) for e in case.events) + windows.flush()
    assert [w.payload() for w in closed] == case.expected
    assert windows.late_dropped == case.late_events


def test_the_window_module_agrees_one_event_at_a_time(case: StreamCase) -> None:
    windows = UniqueUsersWindows(case.out_of_orderness_ms)
    closed = []
    for event in case.events:
        closed.extend(windows.add(event["user_id"], event["timestamp"] * 1000))
    closed.extend(windows.flush())
    assert [w.payload() for w in closed] == case.expected
    assert windows.late_dropped == case.late_events


def test_the_big_case_has_many_users_windows_out_of_order_and_late_events() -> None:
    big = load_case("many_users_many_windows")
    times = [e["timestamp"] for e in big.events]
    out_of_order = sum(1 for before, after in zip(times, times[1:], strict=False) if after < before)
    assert len(big.events) >= 5000 and len(big.expected) >= 30
    assert len({e["user_id"] for e in big.events}) >= 200
    assert out_of_order > 1000 and big.late_events > 50


def test_the_generator_writes_the_big_case_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("stream_vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.write(tmp_path)
    for name in ("events.jsonl", "expected.jsonl", "case.json"):
        assert (tmp_path / name).read_bytes() == (VECTORS / generator.CASE / name).read_bytes(), name


def test_the_generators_recount_agrees_with_the_hand_worked_cases() -> None:
    spec = importlib.util.spec_from_file_location("stream_vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for name in CASES:
        small = load_case(name)
        assert generator.recount(small.events, small.out_of_orderness_ms) == (small.expected, small.late_events), name
