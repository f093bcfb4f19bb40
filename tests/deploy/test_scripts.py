"""Every shell script in the repository passes shellcheck (warnings and errors), following what it sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.conftest import REPO

pytestmark = pytest.mark.deploy


def _scripts() -> list[Path]:
    """The repository's shell scripts: *.sh, and the extension-less ones with a bash shebang (.ci/run)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    scripts = []
    for name in tracked:
        path = REPO / name
        if name.endswith(".sh") or (
            path.suffix == "" and path.is_file() and path.read_bytes()[:20].startswith(b"#!/usr/bin/env bash")
        ):
            scripts.append(path)
    return scripts


def _shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    """shellcheck at warning level, following sourced files relative to each script."""
    command = shutil.which("shellcheck")
    if command is None:
        skip_or_fail("shellcheck is not installed: deploy/check/tools.sh installs it")
    return subprocess.run(
        [command, "-x", "-P", "SCRIPTDIR", "-S", "warning", *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_shell_script_passes_shellcheck() -> None:
    scripts = _scripts()
    assert any(p.name == "run" for p in scripts) and any(p.name == "tools.sh" for p in scripts)
    done = _shellcheck(*scripts)
    assert done.returncode == 0, done.stdout


def test_shellcheck_catches_a_deletion_that_could_reach_the_root(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text('#!/usr/bin/env bash\nrm -rf "$folder/"*\n')
    done = _shellcheck(bad)
    assert done.returncode == 1 and "SC2115" in done.stdout
