"""What the deployment checks share: the repository's paths and the checkers deploy/check/tools.sh builds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def tool(name: str) -> str:
    """The path of a checker from deploy/check/tools.sh (MCE_DEPLOY_TOOLS_BIN, else .tools/deploy/bin).

    Missing, the test is skipped, or fails when `make test` said the checkers were installed.
    """
    folder = Path(os.environ.get("MCE_DEPLOY_TOOLS_BIN") or REPO / ".tools" / "deploy" / "bin")
    path = folder / name
    if not path.is_file():
        skip_or_fail(f"{name} is not built: run deploy/check/tools.sh {name}")
    return str(path)


def run(*command: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a checker; its combined output, or a failure that shows it when it exits non-zero."""
    done = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-6000:]}"
    return output


def checkov() -> str:
    """The checkov command from deploy/check/checkov.sh (MCE_CHECKOV, else .tools/checkov/bin/checkov)."""
    path = Path(os.environ.get("MCE_CHECKOV") or REPO / ".tools" / "checkov" / "bin" / "checkov")
    if not path.is_file():
        skip_or_fail("checkov is not installed: run deploy/check/checkov.sh")
    return str(path)
