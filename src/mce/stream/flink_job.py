"""The unique-users job in Flink SQL: activity envelopes in, one ActivityWindowCounted envelope per closed minute out.

Run it with PyFlink's own interpreter (deploy/local/flink-env.sh prints it), never the platform's:

    .venv-flink/bin/flink-python src/mce/stream/flink_job.py --input DIR --output DIR [--input DIR --output DIR ...]
    .venv-flink/bin/flink-python src/mce/stream/flink_job.py --source-topic events --sink-topic results [...]

Each --input/--output (files) or --source-topic/--sink-topic (Kafka: the Event Hubs side, reached through
EVENTHUBS_BOOTSTRAP, EVENTHUBS_CONNECTION_STRING and MCE_EVENTHUBS_SECURITY_PROTOCOL, with the connector jar
MCE_FLINK_KAFKA_JAR) pair is an independent pipeline with its own watermark, all submitted as one job, so many test
cases cost one JVM start. This module imports only the standard library at the top (pyflink inside functions), so
the platform's environment can import it to check its defaults against kit.contracts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
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
# The connector shades the Kafka client, so its login module lives under Flink's package.
SHADED_PLAIN_LOGIN = "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
DEAD_LETTERED = "DeadLettered"
DEAD_LETTER_RAW_CHARS = 10_000  # as much of a rejected message as the embedded runner keeps
# Java's $ also matches before a final newline, which the runner's fullmatch refuses: \z is the very end.
JAVA_END = "\\z"
NOW_ISO = "DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')"
RESULT_COLUMNS = """`event_id` STRING,
            `type` STRING,
            `key` STRING,
            `occurred_at` STRING,
            `version` INT,
            `data` ROW<`window_start` BIGINT, `window_end` BIGINT, `unique_users` BIGINT, `event_count` BIGINT>"""


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
    # Only a valid activity event may move the watermark, as only those reach the embedded runner's windows.
    valid = (
        f"`type` = {sql_string(params.activity_type)} AND {seconds} BETWEEN 0 AND {MAX_TIMESTAMP_S}"
        f" AND REGEXP(`data`.`user_id`, {sql_string(USER_ID_PATTERN.removesuffix('$') + JAVA_END)})"
    )
    valid_seconds = f"CASE WHEN {valid} THEN {seconds} ELSE 0 END"
    ddl = [
        # The kit envelope as user-events carries it; metadata's values are str | int | bool | null, read as text.
        # A line that is not JSON of this shape is skipped (ignore-parse-errors), and any other invalid event is read
        # at time 0 for the watermark, which then never moves for it, and filtered out below: one poison message
        # must neither stop the job nor push the watermark past every window.
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
            SELECT `data`.`user_id` AS user_id, `ts` FROM {source} WHERE {valid}""",
        f"""CREATE TEMPORARY TABLE {sink} ({RESULT_COLUMNS})
            WITH ('connector' = 'filesystem', 'path' = {sql_string(sink_dir)}, 'format' = 'json')""",
    ]
    return ddl, windows_insert(sink, activity, params)


def windows_insert(sink: str, activity: str, params: JobParams) -> str:
    """The INSERT that counts the activity view's users and events per tumbling window into the sink."""
    # Window bounds come back as TIMESTAMP in the session zone (UTC, set in run); epoch ms = whole seconds * 1000,
    # since a window of whole seconds starts on a whole second. The event id is derived from the window, so a replay
    # of the same input publishes the same ids and consumers deduplicate it.
    return f"""INSERT INTO {sink}
        SELECT
            MD5(CONCAT({sql_string(params.result_type + ":")}, CAST(ws AS STRING))),
            {sql_string(params.result_type)},
            CAST(ws AS STRING),
            {NOW_ISO},
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


@dataclass(frozen=True)
class KafkaEndpoint:
    """A Kafka endpoint (the Event Hubs side's) and its sign-in: SASL PLAIN with the namespace's connection string."""

    bootstrap: str
    security_protocol: str = "SASL_SSL"
    connection_string: str | None = None

    def __post_init__(self) -> None:
        if not self.bootstrap:
            raise ValueError("EVENTHUBS_BOOTSTRAP is not set")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            allowed = ", ".join(SECURITY_PROTOCOLS)
            raise ValueError(f"MCE_EVENTHUBS_SECURITY_PROTOCOL: {self.security_protocol!r} is not one of {allowed}")
        if self.security_protocol != "PLAINTEXT" and not self.connection_string:
            raise ValueError("EVENTHUBS_CONNECTION_STRING is not set")
        if self.connection_string and any(char in self.connection_string for char in '"\\\n'):
            raise ValueError("EVENTHUBS_CONNECTION_STRING holds a quote, a backslash or a newline")

    def table_options(self) -> dict[str, str]:
        """The connector's client properties for this endpoint."""
        options = {
            "properties.bootstrap.servers": self.bootstrap,
            "properties.security.protocol": self.security_protocol,
        }
        if self.security_protocol != "PLAINTEXT":
            options["properties.sasl.mechanism"] = "PLAIN"
            options["properties.sasl.jaas.config"] = (
                f'{SHADED_PLAIN_LOGIN} required username="$ConnectionString" password="{self.connection_string}";'
            )
        return options


def endpoint_from_env(environ: Mapping[str, str]) -> KafkaEndpoint:
    """The Event Hubs endpoint from the platform's setting names (MCE_-prefixed or plain)."""

    def first(*names: str) -> str | None:
        return next((environ[name] for name in names if environ.get(name)), None)

    return KafkaEndpoint(
        bootstrap=first("MCE_EVENTHUBS_BOOTSTRAP", "EVENTHUBS_BOOTSTRAP") or "",
        security_protocol=first("MCE_EVENTHUBS_SECURITY_PROTOCOL") or "SASL_SSL",
        connection_string=first("MCE_EVENTHUBS_CONNECTION_STRING", "EVENTHUBS_CONNECTION_STRING"),
    )


@dataclass(frozen=True)
class KafkaOptions:
    """How the Kafka pipelines read: the endpoint, their consumer group, and whether they stop at today's end."""

    endpoint: KafkaEndpoint
    group: str = "stream"
    # Stop at the offsets the topics hold when the job starts: the end of input then closes every window.
    bounded: bool = False


def with_clause(options: Mapping[str, str]) -> str:
    """A WITH (...) clause of quoted keys and values."""
    return "WITH (" + ", ".join(f"{sql_string(key)} = {sql_string(value)}" for key, value in options.items()) + ")"


def json_scalar(path: str) -> str:
    """The JSON text of the scalar at path in `raw`, inside brackets ([1] or ["a"]); NULL when it is not there."""
    return f"JSON_QUERY(`raw`, {sql_string('strict ' + path)} WITH UNCONDITIONAL ARRAY WRAPPER)"


def kafka_pipeline_sql(
    index: int, source_topic: str, sink_topic: str, params: JobParams, kafka: KafkaOptions
) -> tuple[list[str], list[str]]:
    """The DDL of Kafka pipeline `index` and its INSERTs: the windows into sink_topic, the rest into <source>.dlq."""
    source, activity, rejected = f"events_{index}", f"activity_{index}", f"rejected_{index}"
    sink, dead = f"results_{index}", f"dead_letters_{index}"
    client = kafka.endpoint.table_options()
    # Each message is read as text and checked as the embedded runner checks it: the exact JSON types (a string
    # user_id of the contract's characters, a whole non-negative number of seconds, no wider than 2**40), in strict
    # paths (lax ones would look inside arrays). What fails is dead-lettered, and is read at a time before every
    # window, so it never moves the watermark.
    seconds = "TRY_CAST(JSON_VALUE(`raw`, 'strict $.data.timestamp') AS BIGINT)"
    user_json = '^\\["' + USER_ID_PATTERN.removeprefix("^").removesuffix("$") + '"\\]' + JAVA_END
    valid = (
        f"JSON_VALUE(`raw`, 'strict $.type') = {sql_string(params.activity_type)}"
        f" AND REGEXP({json_scalar('$.data.user_id')}, {sql_string(user_json)})"
        f" AND REGEXP({json_scalar('$.data.timestamp')}, '^\\[[0-9]{{1,13}}\\]{JAVA_END}')"
        f" AND {seconds} <= {MAX_TIMESTAMP_S}"
    )
    source_options = {
        "connector": "kafka",
        "topic": source_topic,
        "value.format": "raw",
        "properties.group.id": kafka.group,
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        # Like the file mode's assigner: a watermark after every event that raises it, not on a 200 ms timer.
        "scan.watermark.emit.strategy": "on-event",
        **client,
    }
    if kafka.bounded:
        source_options["scan.bounded.mode"] = "latest-offset"
    sink_options = {
        "connector": "kafka",
        "topic": sink_topic,
        "key.format": "raw",
        "key.fields": "key",
        "value.format": "json",
        "sink.delivery-guarantee": "at-least-once",
        **client,
    }
    dead_options = {**sink_options, "topic": f"{source_topic}.dlq"}
    ddl = [
        f"""CREATE TEMPORARY TABLE {source} (
            `raw` STRING,
            `partition` INT METADATA VIRTUAL,
            `offset` BIGINT METADATA VIRTUAL,
            `ts` AS TO_TIMESTAMP_LTZ(CASE WHEN {valid} THEN {seconds} ELSE -1 END, 0),
            WATERMARK FOR `ts` AS `ts` - {interval(params.out_of_orderness_ms)}
        ) {with_clause(source_options)}""",
        f"""CREATE TEMPORARY VIEW {activity} AS
            SELECT JSON_VALUE(`raw`, 'strict $.data.user_id') AS user_id, `ts` FROM {source}
            WHERE `ts` >= TO_TIMESTAMP_LTZ(0, 0)""",
        f"""CREATE TEMPORARY VIEW {rejected} AS
            SELECT `raw`, `partition`, `offset` FROM {source} WHERE `ts` < TO_TIMESTAMP_LTZ(0, 0)""",
        f"""CREATE TEMPORARY TABLE {sink} ({RESULT_COLUMNS}) {with_clause(sink_options)}""",
        f"""CREATE TEMPORARY TABLE {dead} (
            `event_id` STRING,
            `type` STRING,
            `key` STRING,
            `occurred_at` STRING,
            `version` INT,
            `data` ROW<`raw` STRING, `group` STRING, `error` STRING, `partition` INT, `offset` BIGINT>
        ) {with_clause(dead_options)}""",
    ]
    position = "CONCAT(CAST(`partition` AS STRING), ':', CAST(`offset` AS STRING))"
    dead_insert = f"""INSERT INTO {dead}
        SELECT
            MD5(CONCAT({sql_string(DEAD_LETTERED + ":" + source_topic + ":")}, {position})),
            {sql_string(DEAD_LETTERED)},
            CONCAT('offset-', CAST(`offset` AS STRING)),
            {NOW_ISO},
            {ENVELOPE_VERSION},
            ROW(SUBSTR(COALESCE(`raw`, ''), 1, {DEAD_LETTER_RAW_CHARS}), {sql_string(kafka.group)},
                'not an activity event envelope of the contract', `partition`, `offset`)
        FROM {rejected}"""
    return ddl, [windows_insert(sink, activity, params), dead_insert]


def job_config(parallelism: int, *, idle_timeout_ms: int = 0) -> dict[str, str]:
    """The settings that make the result exact and deterministic."""
    return {
        "parallelism.default": str(parallelism),
        # 0 turns off periodic watermarks: Flink SQL's WatermarkAssignerOperator then emits one after every event that
        # raises it (emitted after the event itself), so a late event is judged against the watermark of the events
        # before it, never against whatever a 200 ms timer last saw.
        "pipeline.auto-watermark-interval": "0 ms",
        "table.local-time-zone": "UTC",
        # A Kafka source keeps one watermark per partition and goes by the lowest: a partition with nothing to say
        # for this long stops holding the others back (0: never; exact, and right for one partition per topic).
        "table.exec.source.idle-timeout": f"{idle_timeout_ms} ms",
    }


def checkpoint_config(directory: Path, interval_ms: int) -> dict[str, str]:
    """Periodic checkpoints kept under directory after the job ends, so a restarted job resumes from the last."""
    return {
        "execution.checkpointing.interval": f"{interval_ms} ms",
        "execution.checkpointing.dir": directory.resolve().as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "1",
    }


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint under directory (<job id>/chk-<n> holding _metadata), if any."""
    done = [meta.parent for meta in directory.glob("*/chk-*/_metadata")]
    return max(done, key=lambda path: path.stat().st_mtime, default=None)


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


def check_params(params: JobParams) -> None:
    """Refuse a window Flink's bounds arithmetic would get wrong."""
    if params.window_size_ms <= 0 or params.window_size_ms % 1000:
        raise ValueError("the window size must be a positive whole number of seconds")


def run(pipelines: Sequence[tuple[list[str], list[str]]], config: Mapping[str, str]) -> JobStats:
    """Run every (DDL, INSERTs) pipeline as one Flink job on a local mini-cluster, until its input ends."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    if not pipelines:
        raise ValueError("no pipelines to run")
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in config.items():
        env.get_config().set(key, value)
    statements = env.create_statement_set()
    for ddl, inserts in pipelines:
        for statement in ddl:
            env.execute_sql(statement)
        for insert in inserts:
            statements.add_insert_sql(insert)
    jvm = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    cpu_before, started = jvm_cpu_seconds(jvm), time.perf_counter()
    result = statements.execute()
    log.info("flink job %s submitted", result.get_job_client().get_job_id())
    result.wait()
    wall, cpu_after = time.perf_counter() - started, jvm_cpu_seconds(jvm)
    net_ms = result.get_job_client().get_job_execution_result().result().get_net_runtime()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return JobStats(wall_s=wall, net_runtime_s=net_ms / 1000, jvm_cpu_s=cpu)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: pairs of --input/--output directories or --source-topic/--sink-topic, and the parameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    files = parser.add_argument_group("files")
    files.add_argument("--input", action="append", default=[], help="directory of user-events JSON lines")
    files.add_argument("--output", action="append", default=[], help="directory for analytics-results")
    kafka = parser.add_argument_group("kafka (the Event Hubs side, from EVENTHUBS_* settings)")
    kafka.add_argument("--source-topic", action="append", default=[], help="hub of user-events envelopes")
    kafka.add_argument("--sink-topic", action="append", default=[], help="hub for the windows")
    kafka.add_argument("--group", default="stream", help="the consumer group (offsets when no checkpoint is restored)")
    kafka.add_argument("--bounded", action="store_true", help="stop at the offsets the topics hold at the start")
    kafka.add_argument("--jar", help="the Kafka SQL connector jar (default: MCE_FLINK_KAFKA_JAR)")
    kafka.add_argument("--idle-timeout-ms", type=int, default=0, help="when an idle partition stops holding back")
    kafka.add_argument("--checkpoint-dir", type=Path, help="checkpoint there, and resume from the newest one found")
    kafka.add_argument("--checkpoint-interval-ms", type=int, default=10_000)
    parser.add_argument(
        "--out-of-orderness-ms",
        type=int,
        action="append",
        help=f"the watermark's bound (default {OUT_OF_ORDERNESS_MS}); once for every pipeline, or once per pipeline",
    )
    parser.add_argument("--window-size-ms", type=int, default=WINDOW_SIZE_MS)
    parser.add_argument("--activity-type", default=USER_ACTIVITY)
    parser.add_argument("--result-type", default=WINDOW_COUNTED)
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)
    if len(args.input) != len(args.output):
        parser.error("give one --output per --input")
    if len(args.source_topic) != len(args.sink_topic):
        parser.error("give one --sink-topic per --source-topic")
    if bool(args.input) == bool(args.source_topic):
        parser.error("give --input/--output pairs or --source-topic/--sink-topic pairs (one kind)")
    count = len(args.input) or len(args.source_topic)
    bounds = args.out_of_orderness_ms or [OUT_OF_ORDERNESS_MS]
    if len(bounds) not in (1, count):
        parser.error("give --out-of-orderness-ms once, or once per pipeline")
    if any(not 0 <= bound < MAX_INTERVAL_MS for bound in bounds):
        parser.error("--out-of-orderness-ms must be at least 0 and under 100 days")
    if args.idle_timeout_ms < 0 or args.checkpoint_interval_ms <= 0:
        parser.error("--idle-timeout-ms must be >= 0 and --checkpoint-interval-ms > 0")
    args.out_of_orderness_ms = bounds * count if len(bounds) == 1 else bounds
    return args


def build(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[list[tuple[list[str], list[str]]], dict]:
    """The pipelines' SQL and the job's configuration the command line asks for."""
    kinds = (args.activity_type, args.result_type, args.window_size_ms)
    params = [JobParams(*kinds, bound) for bound in args.out_of_orderness_ms]
    for each in params:
        check_params(each)
    config = job_config(args.parallelism, idle_timeout_ms=args.idle_timeout_ms)
    if args.input:
        pipelines = []
        for index, (source, sink, each) in enumerate(zip(args.input, args.output, params, strict=True)):
            ddl, insert = pipeline_sql(index, source, sink, each)
            pipelines.append((ddl, [insert]))
        return pipelines, config
    jar = args.jar or environ.get("MCE_FLINK_KAFKA_JAR")
    if not jar or not Path(jar).is_file():
        raise ValueError(f"the Kafka SQL connector jar {jar!r} is not there; deploy/local/flink-kafka.sh fetches it")
    config["pipeline.jars"] = Path(jar).resolve().as_uri()
    if args.checkpoint_dir is not None:
        config.update(checkpoint_config(args.checkpoint_dir, args.checkpoint_interval_ms))
        restore = latest_checkpoint(args.checkpoint_dir)
        if restore is not None:
            log.info("resuming from checkpoint %s", restore)
            config["execution.state-recovery.path"] = restore.resolve().as_uri()
            # Earlier runs' checkpoints are never read again: keep only the one resumed from.
            for old in args.checkpoint_dir.iterdir():
                if old.is_dir() and old != restore.parent:
                    shutil.rmtree(old, ignore_errors=True)
    kafka = KafkaOptions(endpoint_from_env(environ), group=args.group, bounded=args.bounded)
    pipelines = [
        kafka_pipeline_sql(index, source, sink, each, kafka)
        for index, (source, sink, each) in enumerate(zip(args.source_topic, args.sink_topic, params, strict=True))
    ]
    return pipelines, config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from the command line; print its JobStats as JSON on stdout."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        pipelines, config = build(args, os.environ)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    stats = run(pipelines, config)
    log.info("flink job done: %d pipeline(s), %s", len(pipelines), stats)
    print(json.dumps(asdict(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
