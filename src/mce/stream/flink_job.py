"""The unique-users job in Flink SQL: activity envelopes in, one ActivityWindowCounted envelope per closed minute out.

Run it with PyFlink's own interpreter (deploy/local/flink-env.sh prints it), never the platform's:

    .venv-flink/bin/flink-python src/mce/stream/flink_job.py --input DIR --output DIR [--input DIR --output DIR ...]

Each --input/--output pair is an independent pipeline with its own watermark, all submitted as one job, so many test
cases cost one JVM start. This module imports only the standard library at the top (pyflink inside functions), so
the platform's environment can import it to check its defaults against kit.contracts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Mirrors of kit.contracts, which this module cannot import (it runs without pydantic); a unit test keeps them equal.
USER_ACTIVITY = "UserActivityRecorded"
WINDOW_COUNTED = "ActivityWindowCounted"
WINDOW_SIZE_MS = 60_000
OUT_OF_ORDERNESS_MS = 5_000
ENVELOPE_VERSION = 1
# What the embedded runner accepts, and so what this job counts: anything else is skipped, never fatal.
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,100}$"
MAX_TIMESTAMP_S = 2**40
MAX_INTERVAL_MS = 100 * 86_400_000  # Flink SQL takes two digits of days in an interval literal


@dataclass(frozen=True)
class JobParams:
    """What the SQL depends on: event type names, window size and the watermark's bounded out-of-orderness."""

    activity_type: str = USER_ACTIVITY
    result_type: str = WINDOW_COUNTED
    window_size_ms: int = WINDOW_SIZE_MS
    out_of_orderness_ms: int = OUT_OF_ORDERNESS_MS


def sql_string(value: str) -> str:
    """A SQL string literal holding value."""
    return "'" + value.replace("'", "''") + "'"


def interval(ms: int) -> str:
    """A day-to-second interval literal of ms milliseconds (a plain SECOND literal overflows past 99 seconds)."""
    if not 0 <= ms < MAX_INTERVAL_MS:
        raise ValueError("an interval must be at least 0 and under 100 days")
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def pipeline_sql(index: int, source_dir: str, sink_dir: str, params: JobParams) -> tuple[list[str], str]:
    """The DDL of pipeline `index` (source table, activity view, sink table) and its INSERT statement."""
    source, activity, sink = f"user_events_{index}", f"activity_{index}", f"analytics_results_{index}"
    seconds = "`data`.`timestamp`"
    valid_seconds = f"CASE WHEN {seconds} BETWEEN 0 AND {MAX_TIMESTAMP_S} THEN {seconds} ELSE 0 END"
    ddl = [
        # The kit envelope as user-events carries it; metadata's values are str | int | bool | null, read as text.
        # A line that is not JSON of this shape is skipped (ignore-parse-errors), and an event time outside the
        # contract's range is read as 0 for the watermark, which then never moves for it, and filtered out below:
        # one poison message must neither stop the job nor push the watermark past every window.
        f"""CREATE TEMPORARY TABLE {source} (
            `event_id` STRING,
            `type` STRING,
            `key` STRING,
            `occurred_at` STRING,
            `version` INT,
            `data` ROW<`user_id` STRING, `event_type` STRING, `product_id` STRING, `timestamp` BIGINT,
                       `metadata` MAP<STRING, STRING>>,
            `ts` AS TO_TIMESTAMP_LTZ({valid_seconds}, 0),
            WATERMARK FOR `ts` AS `ts` - {interval(params.out_of_orderness_ms)}
        ) WITH ('connector' = 'filesystem', 'path' = {sql_string(source_dir)}, 'format' = 'json',
                'json.ignore-parse-errors' = 'true')""",
        f"""CREATE TEMPORARY VIEW {activity} AS
            SELECT `data`.`user_id` AS user_id, `ts` FROM {source}
            WHERE `type` = {sql_string(params.activity_type)}
              AND `data`.`timestamp` BETWEEN 0 AND {MAX_TIMESTAMP_S}
              AND REGEXP(`data`.`user_id`, {sql_string(USER_ID_PATTERN)})""",
        f"""CREATE TEMPORARY TABLE {sink} (
            `event_id` STRING,
            `type` STRING,
            `key` STRING,
            `occurred_at` STRING,
            `version` INT,
            `data` ROW<`window_start` BIGINT, `window_end` BIGINT, `unique_users` BIGINT, `event_count` BIGINT>
        ) WITH ('connector' = 'filesystem', 'path' = {sql_string(sink_dir)}, 'format' = 'json')""",
    ]
    # Window bounds come back as TIMESTAMP in the session zone (UTC, set in run); epoch ms = whole seconds * 1000,
    # since a window of whole seconds starts on a whole second. The event id is derived from the window, so a replay
    # of the same input publishes the same ids and consumers deduplicate it.
    insert = f"""INSERT INTO {sink}
        SELECT
            MD5(CONCAT({sql_string(params.result_type + ":")}, CAST(ws AS STRING))),
            {sql_string(params.result_type)},
            CAST(ws AS STRING),
            DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''),
            {ENVELOPE_VERSION},
            ROW(ws, we, unique_users, event_count)
        FROM (
            SELECT
                UNIX_TIMESTAMP(DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss')) * 1000 AS ws,
                UNIX_TIMESTAMP(DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss')) * 1000 AS we,
                COUNT(DISTINCT user_id) AS unique_users,
                COUNT(*) AS event_count
            FROM TABLE(TUMBLE(TABLE {activity}, DESCRIPTOR(`ts`), {interval(params.window_size_ms)}))
            GROUP BY window_start, window_end
        )"""
    return ddl, insert


def job_config(parallelism: int) -> dict[str, str]:
    """The settings that make the result exact and deterministic."""
    return {
        "parallelism.default": str(parallelism),
        # 0 turns off periodic watermarks: Flink SQL's WatermarkAssignerOperator then emits one after every event that
        # raises it (emitted after the event itself), so a late event is judged against the watermark of the events
        # before it, never against whatever a 200 ms timer last saw.
        "pipeline.auto-watermark-interval": "0 ms",
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": "0 ms",
    }


@dataclass(frozen=True)
class JobStats:
    """How long the job took: wall seconds around submit-and-wait, Flink's own net runtime, the JVM's CPU seconds."""

    wall_s: float
    net_runtime_s: float
    jvm_cpu_s: float | None


def jvm_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds process pid has used so far (None off Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(pipelines: Sequence[tuple[str, str, JobParams]], *, parallelism: int = 1) -> JobStats:
    """Run every (input dir, output dir, params) pipeline as one Flink job on a local mini-cluster."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    if not pipelines:
        raise ValueError("no pipelines to run")
    for *_, params in pipelines:
        if params.window_size_ms <= 0 or params.window_size_ms % 1000:
            raise ValueError("the window size must be a positive whole number of seconds")
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in job_config(parallelism).items():
        env.get_config().set(key, value)
    statements = env.create_statement_set()
    for index, (source_dir, sink_dir, params) in enumerate(pipelines):
        ddl, insert = pipeline_sql(index, source_dir, sink_dir, params)
        for statement in ddl:
            env.execute_sql(statement)
        statements.add_insert_sql(insert)
    jvm = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    cpu_before, started = jvm_cpu_seconds(jvm), time.perf_counter()
    result = statements.execute()
    result.wait()
    wall, cpu_after = time.perf_counter() - started, jvm_cpu_seconds(jvm)
    net_ms = result.get_job_client().get_job_execution_result().result().get_net_runtime()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return JobStats(wall_s=wall, net_runtime_s=net_ms / 1000, jvm_cpu_s=cpu)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: pairs of --input/--output directories and the job's parameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", action="append", required=True, help="directory of user-events JSON lines")
    parser.add_argument("--output", action="append", required=True, help="directory for analytics-results")
    parser.add_argument(
        "--out-of-orderness-ms",
        type=int,
        action="append",
        help=f"the watermark's bound (default {OUT_OF_ORDERNESS_MS}); once for every pipeline, or once per --input",
    )
    parser.add_argument("--window-size-ms", type=int, default=WINDOW_SIZE_MS)
    parser.add_argument("--activity-type", default=USER_ACTIVITY)
    parser.add_argument("--result-type", default=WINDOW_COUNTED)
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)
    if len(args.input) != len(args.output):
        parser.error("give one --output per --input")
    bounds = args.out_of_orderness_ms or [OUT_OF_ORDERNESS_MS]
    if len(bounds) not in (1, len(args.input)):
        parser.error("give --out-of-orderness-ms once, or once per --input")
    if any(not 0 <= bound < MAX_INTERVAL_MS for bound in bounds):
        parser.error("--out-of-orderness-ms must be at least 0 and under 100 days")
    args.out_of_orderness_ms = bounds * len(args.input) if len(bounds) == 1 else bounds
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from the command line; print its JobStats as JSON on stdout."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    pipelines = [
        (source, sink, JobParams(args.activity_type, args.result_type, args.window_size_ms, bound))
        for source, sink, bound in zip(args.input, args.output, args.out_of_orderness_ms, strict=True)
    ]
    stats = run(pipelines, parallelism=args.parallelism)
    log.info("flink job done: %d pipeline(s), %s", len(pipelines), stats)
    print(json.dumps(asdict(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
