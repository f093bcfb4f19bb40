"""deploy/observability: the alert rules and their promtool tests, the dashboards' PromQL, the chart values, and that
every metric a dashboard or alert asks for is one a running service exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from mce.registry import SERVICES
from tests.deploy.conftest import DEPLOY, run, tool

pytestmark = pytest.mark.deploy

OBS = DEPLOY / "observability"
RULES = OBS / "rules" / "mce-alerts.yaml"
RULE_TESTS = OBS / "tests" / "mce-alerts.test.yaml"
DASHBOARDS = sorted((OBS / "dashboards").glob("*.json"))
REQUIRED_ALERTS = {"MceHighErrorRate", "MceHighLatencyP95", "MceConsumerLagHigh", "MceOutboxBacklog", "McePodNotReady"}

# Metrics of Kubernetes itself, not of our services: kube-state-metrics (kube_*) and the kubelet's cAdvisor
# (container_*), both scraped by kube-prometheus-stack. Only these may be queried without a service exporting them.
KUBERNETES_METRICS = frozenset(
    {
        "kube_pod_status_ready",
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    }
)
# Grafana's template variables, as promtool may read them: a regex that matches anything.
GRAFANA_VARIABLES = {"$service": ".+", "$trace_id": ""}

# PromQL words that are not metric names.
_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
    }
)
_IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])\s*(\()?")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, label names, values or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def _docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@cache
def rendered() -> tuple[dict[str, Any], ...]:
    """What deploy/observability's kustomization emits."""
    return tuple(_docs(run(tool("kustomize"), "build", str(OBS))))


def _rule_groups() -> list[dict[str, Any]]:
    (rule,) = [doc for doc in rendered() if doc["kind"] == "PrometheusRule"]
    return rule["spec"]["groups"]


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in _rule_groups() for rule in group["rules"] if "alert" in rule]


def _write_rules(folder: Path, groups: list[dict[str, Any]]) -> Path:
    """The groups as a plain Prometheus rules file, as promtool reads them."""
    path = folder / "mce-alerts.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def _dashboard_targets(paths: Iterable[Path]) -> Iterator[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every Prometheus query in the dashboards."""
    for path in paths:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel.get("datasource") or {}
                if source.get("type") == "prometheus":
                    yield path.name, panel["title"], target["expr"]
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and variable["datasource"]["type"] == "prometheus":
                query = variable["query"]["query"]
                # label_values(metric, label) asks for the metric's series.
                yield path.name, f"variable {variable['name']}", re.sub(r"label_values\((\w+),.*\)", r"\1", query)


def _for_promtool(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _check_rules_file(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


def _queried_metrics(dashboards: Iterable[Path]) -> dict[str, set[str]]:
    """Metric name -> where it is queried, over the dashboards given and the alert rules."""
    where: dict[str, set[str]] = {}
    for name, title, expr in _dashboard_targets(dashboards):
        for metric in metric_names(expr):
            where.setdefault(metric, set()).add(f"{name}: {title}")
    for alert in _alerts():
        for metric in metric_names(alert["expr"]):
            where.setdefault(metric, set()).add(f"alert {alert['alert']}")
    return where


def _not_exported(dashboards: Iterable[Path], exported: set[str]) -> dict[str, set[str]]:
    return {
        metric: places
        for metric, places in _queried_metrics(dashboards).items()
        if metric not in exported and metric not in KUBERNETES_METRICS
    }


def _exposed_names(text: str) -> set[str]:
    """Sample names a /metrics page can hold: each # TYPE family, with a counter's _total and a histogram's series."""
    names = set()
    for line in text.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split(maxsplit=3)
        names.add(name)
        if kind == "counter":
            names.add(name.removesuffix("_total") + "_total")
        elif kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        elif kind == "summary":
            names.update(f"{name}{suffix}" for suffix in ("_sum", "_count"))
    return names


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every metric name the services export, each app built in-process on its embedded backends and started."""
    names: set[str] = set()
    for spec in SERVICES:
        data_dir = tmp_path_factory.mktemp(spec.name)
        # public_metrics: the frontend serves /metrics on a port of its own in production, from the same registry.
        settings = spec.settings_class()(data_dir=data_dir, max_loop_lag_ms=60_000, public_metrics=True)
        with TestClient(spec.app_factory()(settings)) as client:
            response = client.get("/metrics")
            assert response.status_code == 200, f"{spec.name}: /metrics answered {response.status_code}"
            names |= _exposed_names(response.text)
    return names


def test_the_kustomization_emits_the_rule_and_each_dashboard_as_a_labelled_configmap_in_observability() -> None:
    docs = rendered()
    assert {doc["metadata"]["namespace"] for doc in docs} == {"observability"}
    (rule,) = [doc for doc in docs if doc["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["team"] == "mce"
    maps = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    assert sorted(key for doc in maps for key in doc["data"]) == [path.name for path in DASHBOARDS]
    for doc in maps:
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        for body in doc["data"].values():
            json.loads(body)


def test_the_alert_rules_pass_promtool_check_rules(tmp_path: Path) -> None:
    done = _check_rules_file(_write_rules(tmp_path, _rule_groups()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path: Path) -> None:
    broken = [{"name": "broken", "rules": [{"alert": "Broken", "expr": "sum by (service (rate(x[5m]))"}]}]
    assert _check_rules_file(_write_rules(tmp_path, broken)).returncode != 0


def test_every_required_alert_is_there_with_for_severity_summary_and_runbook() -> None:
    alerts = _alerts()
    assert {alert["alert"] for alert in alerts} >= REQUIRED_ALERTS
    readme = (OBS / "README.md").read_text().lower()
    for alert in alerts:
        assert alert.get("for"), alert["alert"]
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        runbook = alert["annotations"]["runbook_url"]
        assert runbook == f"deploy/observability/README.md#{alert['alert'].lower()}"
        assert f"### {alert['alert'].lower()}" in readme, f"README has no runbook section for {alert['alert']}"


def _promtool_test(folder: Path, groups: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    _write_rules(folder, groups)
    shutil.copy(RULE_TESTS, folder / RULE_TESTS.name)
    return subprocess.run(
        [tool("promtool"), "test", "rules", RULE_TESTS.name], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_each_alert_fires_and_stays_quiet_in_promtools_rule_tests(tmp_path: Path) -> None:
    done = _promtool_test(tmp_path, _rule_groups())
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_has_a_rule_test_where_it_fires_and_one_where_it_does_not() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for alert in _alerts():
        mine = [case for case in cases if case["alertname"] == alert["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"no test where {alert['alert']} fires"
        assert any(not case["exp_alerts"] for case in mine), f"no test where {alert['alert']} stays quiet"


@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        ("MceOutboxBacklog", "> 500", "> 700"),
        ("MceConsumerLagHigh", "max by (group, topic, partition)", "sum by (group, topic, partition)"),
        ("McePodNotReady", 'namespace="mce", ', ""),
    ],
)
def test_the_rule_tests_fail_when_an_alert_is_changed(tmp_path: Path, alert: str, old: str, new: str) -> None:
    groups = _rule_groups()
    changed = 0
    for group in groups:
        for rule in group["rules"]:
            if rule.get("alert") == alert and old in rule["expr"]:
                rule["expr"] = rule["expr"].replace(old, new)
                changed += 1
    assert changed == 1
    assert _promtool_test(tmp_path, groups).returncode != 0


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    targets = list(_dashboard_targets(DASHBOARDS))
    assert len(targets) >= 10
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": _for_promtool(expr)} for i, (_, _, expr) in enumerate(targets)
    ]
    done = _check_rules_file(_write_rules(tmp_path, [{"name": "dashboards", "rules": rules}]))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_dashboard_query_is_caught_by_promtool(tmp_path: Path) -> None:
    rules = [{"record": "dashboard:broken:check", "expr": "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))"}]
    assert _check_rules_file(_write_rules(tmp_path, [{"name": "broken", "rules": rules}])).returncode != 0


def test_the_dashboards_cover_what_the_issue_asks_for() -> None:
    queries = " ".join(expr for _, _, expr in _dashboard_targets(DASHBOARDS))
    for needed in (
        "http_requests_total",
        'status=~"5.."',
        "histogram_quantile(0.95",
        "order_checkouts_total",
        "order_status_changes_total",
        "bus_consumer_lag",
        "outbox_backlog",
        "analytics_last_window_unique_users",
    ):
        assert needed in queries, needed
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_dashboards_use_only_the_datasources_the_grafana_values_provide() -> None:
    values = yaml.safe_load((OBS / "values" / "kube-prometheus-stack.yaml").read_text())["grafana"]
    provided = {values["sidecar"]["datasources"]["uid"]} | {source["uid"] for source in values["additionalDataSources"]}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in provided, f"{path.name}: {panel['title']}"


def test_every_metric_a_dashboard_or_alert_queries_is_exported_by_a_running_service(exported: set[str]) -> None:
    missing = _not_exported(DASHBOARDS, exported)
    assert not missing, f"queried but exported by no service (nor on the Kubernetes list): {missing}"


def test_a_misspelt_metric_in_a_dashboard_is_caught(exported: set[str], tmp_path: Path) -> None:
    board = json.loads((OBS / "dashboards" / "mce-services.json").read_text())
    board["panels"][0]["targets"][0]["expr"] = "sum by (service) (rate(http_request_total[5m]))"
    misspelt = tmp_path / "misspelt.json"
    misspelt.write_text(json.dumps(board))
    assert set(_not_exported([misspelt], exported)) == {"http_request_total"}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (service, le) (rate(http_request_duration_seconds_bucket{service=~"a|b"}[5m]))',
            {"http_request_duration_seconds_bucket"},
        ),
        (
            "time() - max(analytics_last_window_end_seconds) > 0 and on (pod) up",
            {"analytics_last_window_end_seconds", "up"},
        ),
        ('label_replace(x_total, "a", "$1", "b", "(.*)") / ignoring (c) y', {"x_total", "y"}),
        ("histogram_quantile(0.95, sum without (pod) (rate(z_bucket[1m] offset 5m)))", {"z_bucket"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_prometheus_scrapes_every_10s_keeps_15_days_and_takes_team_mce_monitors_and_rules_from_any_namespace() -> None:
    values = yaml.safe_load((OBS / "values" / "kube-prometheus-stack.yaml").read_text())
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["scrapeInterval"] == "10s" and spec["retention"] == "15d"
    for kind in ("serviceMonitor", "rule"):
        assert spec[f"{kind}Selector"] == {"matchLabels": {"team": "mce"}}
        assert spec[f"{kind}NamespaceSelector"] == {}
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
    # The chart's own monitors (kubelet, kube-state-metrics) must pass the same selector.
    assert values["commonLabels"]["team"] == "mce"
    grafana = values["grafana"]
    assert grafana["service"]["type"] == "LoadBalancer"
    assert grafana["admin"]["existingSecret"] and "adminPassword" not in grafana
    assert grafana["sidecar"]["dashboards"] == {
        **grafana["sidecar"]["dashboards"],
        "enabled": True,
        "label": "grafana_dashboard",
        "labelValue": "1",
    }
    assert {source["type"] for source in grafana["additionalDataSources"]} == {"loki"}


def test_loki_is_one_binary_on_filesystem_storage_and_promtail_parses_our_json_lines() -> None:
    loki = yaml.safe_load((OBS / "values" / "loki.yaml").read_text())
    assert loki["deploymentMode"] == "SingleBinary" and loki["loki"]["storage"]["type"] == "filesystem"
    assert loki["singleBinary"]["replicas"] == 1
    promtail = yaml.safe_load((OBS / "values" / "promtail.yaml").read_text())["config"]
    relabelled = {rule["target_label"]: rule for rule in promtail["snippets"]["common"]}
    assert {"namespace", "pod", "container", "app"} <= set(relabelled)
    assert relabelled["__path__"]["replacement"].startswith("/var/log/pods/")
    stages = promtail["snippets"]["pipelineStages"]
    (ours,) = [stage["match"] for stage in stages if "match" in stage]
    json_stage = next(stage["json"] for stage in ours["stages"] if "json" in stage)
    assert set(json_stage["expressions"]) == {"level", "service", "trace_id"}
    loki_url = promtail["clients"][0]["url"]
    grafana = yaml.safe_load((OBS / "values" / "kube-prometheus-stack.yaml").read_text())["grafana"]
    (loki_source,) = grafana["additionalDataSources"]
    assert loki_url.startswith(loki_source["url"])
