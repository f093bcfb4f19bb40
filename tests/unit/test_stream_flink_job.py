"""The Flink job module as the platform sees it: importable without PyFlink, its defaults equal to the contracts."""

from __future__ import annotations

import sys

import pytest

from mce.kit import contracts
from mce.kit.events import ENVELOPE_VERSION
from mce.stream import flink_job, runner


def test_the_job_module_imports_without_pyflink() -> None:
    assert "pyflink" not in sys.modules


def test_the_job_defaults_are_the_contracts() -> None:
    params = flink_job.JobParams()
    assert params.activity_type == contracts.USER_ACTIVITY
    assert params.result_type == contracts.WINDOW_COUNTED
    assert params.window_size_ms == contracts.WINDOW_SIZE_MS
    assert flink_job.ENVELOPE_VERSION == ENVELOPE_VERSION


def test_the_job_accepts_exactly_what_the_embedded_runner_accepts() -> None:
    assert flink_job.USER_ID_PATTERN == contracts.ACTIVITY_USER_ID_PATTERN
    assert flink_job.MAX_TIMESTAMP_S == runner.MAX_TIMESTAMP_S


def test_the_out_of_orderness_default_is_five_seconds_as_the_design_says() -> None:
    assert flink_job.parse_args(["--input", "in", "--output", "out"]).out_of_orderness_ms == [5000]


@pytest.mark.parametrize(
    ("ms", "literal"),
    [
        (0, "INTERVAL '0 00:00:00.000' DAY TO SECOND(3)"),
        (5001, "INTERVAL '0 00:00:05.001' DAY TO SECOND(3)"),
        (60_000, "INTERVAL '0 00:01:00.000' DAY TO SECOND(3)"),
        (90_061_001, "INTERVAL '1 01:01:01.001' DAY TO SECOND(3)"),
    ],
)
def test_an_interval_keeps_every_millisecond(ms: int, literal: str) -> None:
    assert flink_job.interval(ms) == literal


@pytest.mark.parametrize("ms", [-1, flink_job.MAX_INTERVAL_MS])
def test_an_interval_outside_what_flink_parses_is_refused(ms: int) -> None:
    with pytest.raises(ValueError):
        flink_job.interval(ms)


def test_a_quote_in_a_path_or_name_cannot_end_the_sql_string() -> None:
    params = flink_job.JobParams(activity_type="x' OR '1'='1")
    ddl, _ = flink_job.pipeline_sql(0, "/tmp/it's", "/tmp/out", params)
    assert "'/tmp/it''s'" in ddl[0]
    assert "`type` = 'x'' OR ''1''=''1'" in ddl[1]


def test_each_pipeline_has_its_own_tables_and_its_own_watermark_bound() -> None:
    first, _ = flink_job.pipeline_sql(0, "a", "b", flink_job.JobParams(out_of_orderness_ms=0))
    second, insert = flink_job.pipeline_sql(1, "c", "d", flink_job.JobParams(out_of_orderness_ms=7000))
    assert "user_events_0" in first[0] and "INTERVAL '0 00:00:00.000'" in first[0]
    assert "user_events_1" in second[0] and "INTERVAL '0 00:00:07.000'" in second[0]
    assert insert.startswith("INSERT INTO analytics_results_1")


def test_watermarks_are_emitted_per_event_on_one_task_in_utc() -> None:
    config = flink_job.job_config(parallelism=1)
    assert config["pipeline.auto-watermark-interval"] == "0 ms"
    assert config["parallelism.default"] == "1"
    assert config["table.local-time-zone"] == "UTC"


@pytest.mark.parametrize(
    "argv",
    [
        ["--input", "a", "--input", "b", "--output", "c"],
        ["--input", "a", "--output", "b", "--out-of-orderness-ms", "-1"],
        ["--input", "a", "--input", "b", "--output", "c", "--output", "d"] + ["--out-of-orderness-ms", "1"] * 3,
    ],
)
def test_the_command_line_refuses_unpaired_or_negative_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        flink_job.parse_args(argv)


def test_one_bound_applies_to_every_pipeline_and_several_apply_in_order() -> None:
    two = ["--input", "a", "--output", "b", "--input", "c", "--output", "d"]
    assert flink_job.parse_args([*two, "--out-of-orderness-ms", "7"]).out_of_orderness_ms == [7, 7]
    bounds = ["--out-of-orderness-ms", "1", "--out-of-orderness-ms", "2"]
    assert flink_job.parse_args([*two, *bounds]).out_of_orderness_ms == [1, 2]
