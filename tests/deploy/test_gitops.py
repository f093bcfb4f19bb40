"""The ArgoCD project, the app-of-apps root and one Application per deployable, synced automatically from Git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, REPO, run, tool

pytestmark = pytest.mark.deploy

GITOPS = DEPLOY / "gitops"
EKS = ["frontend", "product", "cart", "order", "search", "events-producer", "analytics", "mirrormaker"]
APPS = {*EKS, "stream", "observability", "common"}
IN_CLUSTER = "https://kubernetes.default.svc"
CHARTS = {"kube-prometheus-stack", "loki", "promtail"}


def load(path: Path) -> dict[str, Any]:
    """One YAML document."""
    return yaml.safe_load(path.read_text())


def applications() -> dict[str, dict[str, Any]]:
    """deploy/gitops/apps/*.yaml by file name."""
    return {path.stem: load(path) for path in sorted((GITOPS / "apps").glob("*.yaml"))}


def sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    """An Application's sources, single or many."""
    spec = app["spec"]
    return spec.get("sources") or [spec["source"]]


def test_there_is_one_application_per_deployable_plus_common_observability_and_stream() -> None:
    apps = applications()
    assert set(apps) == APPS
    for name, app in apps.items():
        assert app["kind"] == "Application" and app["metadata"]["name"] == name
        assert app["metadata"]["namespace"] == "argocd"
        assert app["spec"]["project"] == "mce"


def test_every_application_syncs_automatically_with_prune_self_heal_namespaces_and_retries() -> None:
    for name, app in {**applications(), "mce": load(GITOPS / "app-of-apps.yaml")}.items():
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}, name
        retry = policy["retry"]
        assert retry["limit"] >= 3 and retry["backoff"]["factor"] >= 2, name
        if name != "mce":
            assert "CreateNamespace=true" in policy["syncOptions"], name


def test_each_service_application_points_at_its_own_aws_overlay_and_the_stream_job_at_aks() -> None:
    apps = applications()
    for name in EKS:
        [source] = sources(apps[name])
        assert source["path"] == f"deploy/k8s/aws/{name}"
        assert apps[name]["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "mce"}
    [stream] = sources(apps["stream"])
    assert stream["path"] == "deploy/k8s/azure/stream"
    assert apps["stream"]["spec"]["destination"] == {"name": "aks", "namespace": "mce"}
    assert sources(apps["common"])[0]["path"] == "deploy/k8s/aws/common"


def test_every_git_path_exists_and_renders_with_kustomize() -> None:
    kustomize = tool("kustomize")
    waiting = []
    for name, app in applications().items():
        for source in sources(app):
            path = source.get("path")
            if path is None:
                continue
            if path == "deploy/observability" and not (REPO / path).exists():
                waiting.append(path)
                continue
            assert (REPO / path / "kustomization.yaml").is_file(), f"{name}: {path}"
            run(kustomize, "build", str(REPO / path))
    if waiting:
        pytest.skip("deploy/observability comes with the observability branch; every other path renders")


def test_the_root_application_syncs_the_apps_folder() -> None:
    root = load(GITOPS / "app-of-apps.yaml")
    assert root["spec"]["source"]["path"] == "deploy/gitops/apps"
    assert root["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "argocd"}


def test_the_project_allows_exactly_the_sources_and_destinations_the_applications_use() -> None:
    project = load(GITOPS / "project.yaml")
    assert project["kind"] == "AppProject" and project["metadata"]["name"] == "mce"
    allowed_repos = set(project["spec"]["sourceRepos"])
    allowed = {(d.get("server"), d.get("name"), d["namespace"]) for d in project["spec"]["destinations"]}
    used_repos, used = set(), set()
    everything = {**applications(), "mce": load(GITOPS / "app-of-apps.yaml")}
    for app in everything.values():
        used_repos |= {s["repoURL"] for s in sources(app)}
        d = app["spec"]["destination"]
        used.add((d.get("server"), d.get("name"), d["namespace"]))
    assert used_repos == allowed_repos
    # kube-system is there for the Services kube-prometheus-stack makes to scrape the control plane.
    assert used | {(IN_CLUSTER, None, "kube-system")} == allowed
    assert "*" not in allowed_repos and all("*" not in str(d) for d in allowed)


def test_observability_installs_the_three_charts_with_this_repository_s_values() -> None:
    app = applications()["observability"]
    all_sources = sources(app)
    charts = {s["chart"]: s for s in all_sources if "chart" in s}
    assert set(charts) == CHARTS
    [values] = [s for s in all_sources if s.get("ref") == "values"]
    git = load(GITOPS / "project.yaml")["spec"]["sourceRepos"][0]
    assert values["repoURL"] == git
    for chart, source in charts.items():
        assert source["targetRevision"][0].isdigit(), f"{chart} is not pinned"
        assert source["helm"]["valueFiles"] == [f"$values/deploy/observability/values/{chart}.yaml"]
        if (DEPLOY / "observability").exists():
            assert (DEPLOY / "observability" / "values" / f"{chart}.yaml").is_file()
    assert [s["path"] for s in all_sources if "path" in s] == ["deploy/observability"]
    assert app["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "observability"}


def test_common_syncs_before_observability_and_observability_before_the_services() -> None:
    apps = applications()

    def wave(name: str) -> int:
        return int(apps[name]["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))

    assert wave("common") < wave("observability") < min(wave(name) for name in [*EKS, "stream"])


def test_the_argocd_objects_are_valid_against_the_argocd_schemas(tmp_path: Path) -> None:
    tool("kubeconform")
    files = [GITOPS / "project.yaml", GITOPS / "app-of-apps.yaml", *sorted((GITOPS / "apps").glob("*.yaml"))]
    run(str(DEPLOY / "check" / "k8s.sh"), "kubeconform", *map(str, files), env={"MCE_PYTHON": sys.executable})
    bad = tmp_path / "bad.yaml"
    bad.write_text((GITOPS / "apps" / "cart.yaml").read_text().replace("selfHeal", "selfHeel"))
    done = subprocess.run(
        [str(DEPLOY / "check" / "k8s.sh"), "kubeconform", str(bad)],
        env={**os.environ, "MCE_PYTHON": sys.executable},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "selfHeel" in done.stdout
