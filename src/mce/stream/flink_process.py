"""The stream service's Flink engine: the PyFlink job on a local mini-cluster as a child process, kept running.

The child runs in a session of its own, so stopping it stops the JVM PyFlink started under it too. When it dies it
is started again after a backoff that doubles up to a ceiling and resets once a run has lasted; each run resumes
from the newest checkpoint the job kept (flink_job.py's --checkpoint-dir).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOB = Path(__file__).resolve().parent / "flink_job.py"
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
# A run this long counts as healthy: the next failure starts again from the first backoff.
STABLE_S = 60.0
STOP_GRACE_S = 10.0


def flink_command(
    python: str,
    *,
    jar: str,
    source_topic: str,
    sink_topic: str,
    group: str,
    out_of_orderness_ms: int,
    idle_timeout_ms: int,
    checkpoint_dir: Path,
    checkpoint_interval_ms: int,
) -> list[str]:
    """The command line of the unbounded Kafka job (the endpoint and its secret travel in the environment)."""
    return [
        python,
        str(JOB),
        "--source-topic",
        source_topic,
        "--sink-topic",
        sink_topic,
        "--group",
        group,
        "--jar",
        jar,
        "--out-of-orderness-ms",
        str(out_of_orderness_ms),
        "--idle-timeout-ms",
        str(idle_timeout_ms),
        "--checkpoint-dir",
        str(checkpoint_dir),
        "--checkpoint-interval-ms",
        str(checkpoint_interval_ms),
    ]


class JobProcess:
    """Runs a command as a child in its own session, restarts it when it exits, stops it (and its children)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        first_backoff_s: float = FIRST_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        stable_s: float = STABLE_S,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stable_s = stable_s
        self.restarts = 0
        self.last_exit: int | None = None
        self.started_at: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running child's PID, if one runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def alive(self) -> bool:
        """Whether the child runs now."""
        return self.pid is not None

    def start(self) -> None:
        """Start the child and a thread that restarts it whenever it exits, until stop()."""
        self._stop.clear()
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="flink-job", daemon=True)
        self._thread.start()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop watching, then SIGTERM the child's session, SIGKILL it after grace_s."""
        self._stop.set()
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                _signal_session(process.pid, signal.SIGTERM)
                try:
                    process.wait(grace_s)
                except subprocess.TimeoutExpired:
                    log.warning("the Flink job (PID %d) ignored SIGTERM for %.0f s; killing it", process.pid, grace_s)
                    _signal_session(process.pid, signal.SIGKILL)
                    process.wait()
            if process is not None:
                # The JVM may outlive the python that started it for a moment; it is in the same session.
                _signal_session(process.pid, signal.SIGKILL)
        if self._thread is not None:
            self._thread.join(grace_s)

    def status(self) -> dict[str, Any]:
        """What an operator needs: whether it runs, since when, how often it was restarted, how it last ended."""
        started = self.started_at
        return {
            "alive": self.alive,
            "pid": self.pid,
            "uptime_s": None if started is None or not self.alive else round(time.monotonic() - started, 1),
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_path),
        }

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as out:
                self._process = subprocess.Popen(
                    self.command,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.started_at = time.monotonic()
            log.info("started the Flink job (PID %d); its log: %s", self._process.pid, self.log_path)

    def _watch(self) -> None:
        backoff = self.first_backoff_s
        while not self._stop.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stop.is_set():
                return
            # Whatever it left behind in its session (the JVM) goes with it before a new one starts.
            _signal_session(process.pid, signal.SIGKILL)
            ran = time.monotonic() - (self.started_at or 0.0)
            if ran >= self.stable_s:
                backoff = self.first_backoff_s
            self.last_exit = code
            log.error("the Flink job exited with %s after %.0f s; starting it again in %.0f s", code, ran, backoff)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff_s)
            self.restarts += 1
            self._spawn()


def _signal_session(pid: int, sig: int) -> None:
    """Send sig to every process in the session (= process group) that pid leads; gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
