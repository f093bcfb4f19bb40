"""Starts services by forking a process that has already imported what all of them import.

Nine Python services starting at once on two cores spend most of their start importing the same libraries (FastAPI,
pydantic, SQLAlchemy, uvicorn: about 0.5 s of CPU each, every time). The fork server imports them once,
then forks each service from there, so a start pays only for the service's own modules. A service it forks is
still the supervisor's own child, as with `subprocess`: the fork server forks twice and the supervisor, a Linux
child subreaper, adopts the grandchild, so it can wait for it, see its exit code and signal its process group.
Where any of that is not available, the supervisor starts services the plain way.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

import setproctitle

from mce.kit.heap import freeze_start_up_heap

# What every service imports; a module missing here is only a slower start, never an error.
PRELOAD = (
    "fastapi",
    "fastapi_offline",
    "starlette.middleware.gzip",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "uvicorn",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "prometheus_client",
    "orjson",
    "jinja2",
    "mce.cli",
    "mce.kit.app",
    "mce.kit.contracts",
    "mce.kit.db",
    "mce.kit.http",
    "mce.kit.keepalive",
    "mce.kit.logs",
    "mce.kit.bus.sqlite",
    "mce.kit.outbox",
)
PR_SET_CHILD_SUBREAPER = 36
REPLY_TIMEOUT_S = 10.0


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux); False where the kernel or libc does not offer it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ForkedProcess:
    """A service the fork server started and this process adopted: Popen's poll and wait, by its pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Its exit code once it has ended (negative: the signal that ended it), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Reaped elsewhere or never adopted: it is gone either way, and how it ended is unknown.
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code, waiting up to timeout seconds (subprocess.TimeoutExpired after that)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode


class ForkServer:
    """The supervisor's side: asks the fork server for each start, and starts the plain way if it cannot answer."""

    def __init__(self, process: subprocess.Popen, fallback: Callable[[Any], Any], report: Callable[[str], None]):
        self.process = process
        self.fallback = fallback
        self.report = report
        self.broken = False

    @classmethod
    def start(cls, fallback: Callable[[Any], Any], report: Callable[[str], None]) -> ForkServer | None:
        """A running fork server, or None where this process cannot adopt what it forks (then start the plain way)."""
        if not become_subreaper():
            return None
        process = subprocess.Popen(
            [sys.executable, "-m", "mce.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own session: Ctrl-C at the terminal reaches the supervisor, which closes the fork server itself.
            start_new_session=True,
        )
        return cls(process, fallback, report)

    def launch(self, child: Any) -> Any:
        """Start the child's `mce serve` from the fork server; the plain way if the server is gone or silent."""
        if not self.broken:
            request = {
                "argv": ["serve", child.name, "--port", str(child.port)],
                "env": child.env,
                "log": str(child.log_path),
            }
            try:
                return ForkedProcess(self._ask(request))
            except (OSError, ValueError, KeyError, TimeoutError) as exc:
                self.broken = True
                self.report(f"the fork server failed ({exc}); starting services the plain way from now on")
        return self.fallback(child)

    def _ask(self, request: dict[str, Any]) -> int:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request).encode() + b"\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], REPLY_TIMEOUT_S)
        if not ready:
            raise TimeoutError(f"no answer within {REPLY_TIMEOUT_S:.0f} s")
        return int(json.loads(stdout.readline())["pid"])

    def close(self) -> None:
        """Let the fork server end (it ends when its input does) and wait for it briefly."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _run_service(request: dict[str, Any]) -> None:
    """In the forked grandchild: become the service `mce serve` would have started, then exit with its code."""
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 256)
        # As a fresh interpreter has them (the fork server ignores Ctrl-C); SIGPIPE stays ignored, as Python keeps it.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # What `ps` and `pkill -f` show: the command a plain start would have run, not the fork server's. Before the
        # environment changes: the title takes over the memory of the original arguments and environment.
        setproctitle.setproctitle(" ".join([sys.executable, "-m", "mce", *request["argv"]]))
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["mce", *request["argv"]]
        from mce.cli import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _fork_service(request: dict[str, Any]) -> int:
    """Fork twice so the service is orphaned at once and adopted by the supervisor; its pid."""
    read_end, write_end = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        os.close(read_end)
        service = os.fork()
        if service == 0:
            os.close(write_end)
            _run_service(request)
        os.write(write_end, str(service).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        pid = int(pipe.read())
    # Once the intermediate has ended, the service belongs to the nearest subreaper: the supervisor.
    os.waitpid(intermediate, 0)
    return pid


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Import what every service imports, then fork one service per request line until the input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # Frozen before the forks, the collector in a service never writes to these objects, so their pages stay shared.
    freeze_start_up_heap()
    for line in requests:
        request = json.loads(line)
        replies.write(json.dumps({"pid": _fork_service(request)}).encode() + b"\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
