"""Open-loop load with vegeta: a fixed request rate, whatever the server's speed, so queueing shows."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0"
TOOLS_BIN = Path(__file__).resolve().parent.parent / ".tools" / "go-bin"

# A rate is sustained when nearly every request succeeds, the server keeps pace, and the tail stays short.
MIN_SUCCESS = 0.999
MIN_PACE = 0.95
MAX_P99_S = 0.100
MAX_WORKERS = 512
# After a step the server could not sustain, let its backlog drain before the next one.
COOL_DOWN_S = 8.0


def ensure_vegeta() -> Path:
    """The vegeta binary, built from the Go module proxy into .tools/go-bin on first use."""
    binary = TOOLS_BIN / "vegeta"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise SystemExit("make bench needs Go to build vegeta (go install " + VEGETA_MODULE + ")")
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "install", VEGETA_MODULE], check=True, env={**os.environ, "GOBIN": str(TOOLS_BIN)})
    return binary


@dataclass(frozen=True)
class Result:
    """What one fixed-rate attack measured."""

    rate: int
    throughput: float
    success: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    status_codes: dict[str, int]

    @property
    def sustained(self) -> bool:
        """Whether the server kept up with this rate."""
        return (
            self.success >= MIN_SUCCESS and self.throughput >= MIN_PACE * self.rate and self.p99_ms <= MAX_P99_S * 1000
        )


def attack(urls: list[str], rate: int, seconds: float, headers: dict[str, str] | None = None) -> Result:
    """Send GETs round-robin over urls at `rate` per second for `seconds` (open loop)."""
    header_lines = "".join(f"{k}: {v}\n" for k, v in (headers or {}).items())
    targets = "\n".join(f"GET {url}\n{header_lines}" for url in urls)
    return _run(targets, [f"-rate={rate}/s", f"-duration={seconds}s"], rate)


def attack_closed(url: str, body: bytes, headers: dict[str, str], workers: int, seconds: float) -> Result:
    """POST the body as fast as `workers` clients can, each waiting for its answer before the next (closed loop)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
        handle.write(body)
        body_file = handle.name
    header_lines = "".join(f"{k}: {v}\n" for k, v in headers.items())
    try:
        flags = ["-rate=0", f"-workers={workers}", f"-max-workers={workers}", f"-duration={seconds}s"]
        return _run(f"POST {url}\n{header_lines}@{body_file}", flags, 0)
    finally:
        os.unlink(body_file)


@dataclass(frozen=True)
class Target:
    """One request of an attack: method, URL, headers and body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    def line(self) -> str:
        """The target in vegeta's JSON target format."""
        header = {name: [value] for name, value in self.headers.items()}
        body = base64.b64encode(self.body).decode()
        return json.dumps({"method": self.method, "url": self.url, "header": header, "body": body})


def attack_targets(targets: list[Target], rate: int, seconds: float, *, workers: int | None = None) -> Result:
    """Send the targets in order (round-robin) at `rate` per second for `seconds` (open loop).

    With `workers`, as fast as that many clients can, each waiting for its answer (closed loop; `rate` is ignored).
    """
    if workers is None:
        flags = ["-format=json", f"-rate={rate}/s", f"-duration={seconds}s"]
    else:
        flags = ["-format=json", "-rate=0", f"-workers={workers}", f"-max-workers={workers}", f"-duration={seconds}s"]
    return _run("\n".join(target.line() for target in targets), flags, rate if workers is None else 0)


def attack_by_second(urls: list[str], rate: int, seconds: float, headers: dict[str, str] | None = None) -> list[float]:
    """Like attack, but the share of requests that succeeded in each second of the run, in order."""
    header_lines = "".join(f"{k}: {v}\n" for k, v in (headers or {}).items())
    targets = "\n".join(f"GET {url}\n{header_lines}" for url in urls)
    raw = _attack(targets, [f"-rate={rate}/s", f"-duration={seconds}s"])
    encoded = subprocess.run(
        [str(ensure_vegeta()), "encode", "-to=csv"], input=raw, check=True, capture_output=True
    ).stdout.decode()
    per_second: dict[int, list[int]] = {}
    start: int | None = None
    for line in encoded.splitlines():
        stamp, code = line.split(",", 2)[:2]
        start = int(stamp) if start is None else start
        tally = per_second.setdefault((int(stamp) - start) // 1_000_000_000, [0, 0])
        tally[0] += 1
        tally[1] += 200 <= int(code) < 400
    return [ok / total for _, (total, ok) in sorted(per_second.items())]


def _attack(targets: str, flags: list[str]) -> bytes:
    """Run one vegeta attack on these targets; its raw results."""
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as handle:
        handle.write(targets + "\n")
        target_file = handle.name
    try:
        return subprocess.run(
            [str(ensure_vegeta()), "attack", *flags, f"-targets={target_file}", "-timeout=5s", "-keepalive=true"],
            check=True,
            capture_output=True,
        ).stdout
    finally:
        os.unlink(target_file)


def _run(targets: str, flags: list[str], rate: int) -> Result:
    """Run one vegeta attack on these targets and read its report."""
    vegeta = ensure_vegeta()
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as handle:
        handle.write(targets + "\n")
        target_file = handle.name
    try:
        attacked = subprocess.run(
            [str(vegeta), "attack", *flags, f"-targets={target_file}", "-timeout=5s", "-keepalive=true"],
            check=True,
            capture_output=True,
        )
        report = subprocess.run(
            [str(vegeta), "report", "-type=json"], input=attacked.stdout, check=True, capture_output=True
        )
    finally:
        os.unlink(target_file)
    data = json.loads(report.stdout)
    lat = data["latencies"]
    return Result(
        rate=rate,
        throughput=data["throughput"],
        success=data["success"],
        p50_ms=lat["50th"] / 1e6,
        p95_ms=lat["95th"] / 1e6,
        p99_ms=lat["99th"] / 1e6,
        max_ms=lat["max"] / 1e6,
        status_codes=data.get("status_codes") or {},
    )


def max_sustainable_rate(
    urls: list[str], *, start: int = 250, seconds: float = 5.0, headers: dict[str, str] | None = None, log=print
) -> Result:
    """Raise the rate by half each step until the server falls behind, then bisect between the last two."""
    best: Result | None = None
    rate = start
    failed_at: int | None = None
    while failed_at is None:
        result = attack(urls, rate, seconds, headers)
        log(f"    {rate:>6}/s -> {result.throughput:8.0f}/s ok={result.success:.4f} p99={result.p99_ms:7.1f} ms")
        if result.sustained:
            best, rate = result, int(rate * 1.5)
        else:
            failed_at = rate
            time.sleep(COOL_DOWN_S)
        if rate > 100_000:
            break
    low = best.rate if best else 0
    high = failed_at or rate
    for _ in range(3):
        if high - low <= max(25, low // 20):
            break
        middle = (low + high) // 2
        result = attack(urls, middle, seconds, headers)
        log(f"    {middle:>6}/s -> {result.throughput:8.0f}/s ok={result.success:.4f} p99={result.p99_ms:7.1f} ms")
        if result.sustained:
            best, low = result, middle
        else:
            high = middle
            time.sleep(COOL_DOWN_S)
    if best is None:
        raise RuntimeError(f"not even {start}/s was sustained")
    return best
