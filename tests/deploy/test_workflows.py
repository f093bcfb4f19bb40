"""The GitHub workflows: actionlint (with shellcheck on every run: script) passes, and they do what the README says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import REPO, run, tool

pytestmark = pytest.mark.deploy

WORKFLOWS = REPO / ".github" / "workflows"


def _workflow(name: str) -> dict:
    """A workflow file, parsed (PyYAML reads the `on:` key as True)."""
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _actionlint(repo: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over a repository's workflows; it must run inside the git repository to find them."""
    assert shutil.which("shellcheck"), "shellcheck is needed so actionlint checks the run: scripts too"
    return subprocess.run([tool("actionlint"), "-color=false"], cwd=repo, capture_output=True, text=True, timeout=120)


def test_every_workflow_passes_actionlint_and_shellcheck() -> None:
    done = _actionlint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_an_unquoted_variable_and_an_injected_expression(tmp_path: Path) -> None:
    run("git", "init", "-q", str(tmp_path))
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "name: bad\non: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo $FOO ${{ github.event.head_commit.message }}\n"
    )
    done = _actionlint(tmp_path)
    assert done.returncode == 1
    assert "SC2086" in done.stdout and "potentially untrusted" in done.stdout


def test_pull_requests_run_the_readme_test_command() -> None:
    ci = _workflow("ci.yml")
    assert "pull_request" in ci[True]
    steps = ci["jobs"]["test"]["steps"]
    assert any("make test" in step.get("run", "") for step in steps)


def test_terraform_is_validated_with_real_providers_for_both_clouds() -> None:
    job = _workflow("ci.yml")["jobs"]["terraform"]
    assert set(job["strategy"]["matrix"]["root"]) == {"deploy/terraform/aws", "deploy/terraform/azure"}
    script = " ".join(step.get("run", "") for step in job["steps"])
    assert "terraform validate" in script and "init -backend=false" in script


def test_deploy_pushes_latest_and_the_short_sha_then_pins_the_sha_in_the_manifests() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy[True]["push"]["branches"] == ["main"]
    tags_script = next(s["run"] for s in deploy["jobs"]["aws-images"]["steps"] if s.get("id") == "tags")
    assert ":latest" in tags_script and "${GITHUB_SHA::7}" in tags_script
    bump = deploy["jobs"]["bump-manifests"]
    assert set(bump["needs"]) == {"aws-images", "stream-image"}
    script = " ".join(step.get("run", "") for step in bump["steps"])
    assert "kustomize edit set image" in script and "git push" in script


def test_no_workflow_holds_long_lived_cloud_keys() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for key in ("aws-access-key-id", "AWS_SECRET_ACCESS_KEY", "client-secret", "creds:"):
            assert key not in text, f"{path.name} uses {key}: deploy through OIDC roles instead"
