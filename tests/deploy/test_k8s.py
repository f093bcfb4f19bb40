"""The Kubernetes manifests: rendered by kustomize, valid against the schemas, secure, and consistent with the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from mce import registry
from mce.cli import ServeSettings
from mce.kit.settings import DatabaseSettings, load_settings
from tests.deploy.conftest import DEPLOY, REPO, run, tool

pytestmark = pytest.mark.deploy

K8S = DEPLOY / "k8s"
CHECK = DEPLOY / "check"
SCRIPT = str(CHECK / "k8s.sh")
# The EKS deployables and their HPA ranges (design doc 10.1); None: one replica, no HPA.
EKS = {
    "frontend": (2, 10),
    "product": (2, 10),
    "cart": (1, 8),
    "order": (1, 8),
    "search": (1, 6),
    "events-producer": (1, 5),
    "analytics": None,
    "mirrormaker": None,
}
PYTHON_SERVICES = [name for name in EKS if name != "mirrormaker"]
# mirrormaker serves no /metrics (MirrorMaker 2 exposes JMX only; no exporter is in its image).
NOT_SCRAPED = {"mirrormaker"}
# Services that run a PreSync `mce migrate`: those with a database in production (cart keeps carts in DynamoDB).
MIGRATED = {"frontend", "product", "order", "analytics"}
# Variables that are not the platform's settings but are read by the libraries it runs on.
LIBRARY_VARIABLES = {"AWS_REGION"}
EXPECTED_BACKENDS = {
    "frontend": {"bus": "kafka", "blob_store": "s3"},
    "product": {"bus": "kafka", "blob_store": "s3"},
    "cart": {"bus": "kafka", "cart_store": "dynamodb"},
    "order": {"bus": "kafka"},
    "search": {"bus": "kafka", "search_index": "opensearch"},
    "events-producer": {"bus": "kafka"},
    "analytics": {"bus": "eventhubs", "analytics_results_topic": "results"},
}


def k8s_env() -> dict[str, str]:
    """The environment deploy/check/k8s.sh runs in: this interpreter converts the schemas."""
    return {"MCE_PYTHON": sys.executable}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every application path rendered by kustomize (deploy/check/k8s.sh render)."""
    tool("kustomize")
    out = tmp_path_factory.mktemp("rendered")
    run(SCRIPT, "render", str(out), env=k8s_env())
    return out


def docs(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def objects(rendered: Path, app: str) -> list[dict[str, Any]]:
    """The objects an application renders to."""
    return docs(rendered / f"{app}.yaml")


def find(items: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """The objects of a kind (and name)."""
    return [o for o in items if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of that kind and name."""
    found = find(items, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def kubeconform(*paths: Path) -> subprocess.CompletedProcess[str]:
    """kubeconform through deploy/check/k8s.sh, not asserting its exit status."""
    tool("kubeconform")
    return subprocess.run(
        [SCRIPT, "kubeconform", *map(str, paths)],
        env={**os.environ, **k8s_env()},
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- the checkers -----------------------------------------------------------------------------------------------


def test_every_rendered_manifest_and_crd_is_valid_against_the_schemas(rendered: Path) -> None:
    done = kubeconform(rendered, CHECK / "crds")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Invalid: 0, Errors: 0, Skipped: 0" in done.stdout


BAD_MANIFESTS = {
    "typo.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {app: x}}\n"
        "  template:\n    metadata: {labels: {app: x}}\n"
        "    spec:\n      containers: [{name: x, image: 'x:1', resoruces: {}}]\n",
        "additional properties 'resoruces' not allowed",
    ),
    "unknown-kind.yaml": ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n", "could not find schema"),
    "flink.yaml": (
        "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata: {name: x}\n"
        "spec: {flinkVersion: v9_9, job: {jarURI: 'local:///x.jar', upgradeMod: stateless}}\n",
        "upgradeMod",
    ),
    "argocd.yaml": (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\n"
        "spec: {project: mce, destination: {namespace: mce}, syncPolicy: {automated: {prune: true, selfheal: true}}}\n",
        "selfheal",
    ),
    "servicemonitor.yaml": (
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\n"
        "spec: {selector: {}, endpoints: [{port: http, intervall: 10s}]}\n",
        "intervall",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_MANIFESTS))
def test_kubeconform_refuses_a_typo_an_unknown_field_or_a_kind_it_has_no_schema_for(tmp_path: Path, name: str) -> None:
    text, message = BAD_MANIFESTS[name]
    (tmp_path / name).write_text(text)
    done = kubeconform(tmp_path / name)
    assert done.returncode != 0, done.stdout
    assert message in done.stdout


def test_the_crd_schemas_kubeconform_uses_are_made_from_the_crds_the_api_server_gets() -> None:
    run(sys.executable, str(CHECK / "crd_schemas.py"), "--check")


def test_the_flink_version_enum_holds_the_version_the_stream_job_asks_for(rendered: Path) -> None:
    crd = yaml.safe_load((CHECK / "crds" / "flinkdeployments.flink.apache.org.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    flink = one(objects(rendered, "azure-stream"), "FlinkDeployment", "stream")
    assert flink["spec"]["flinkVersion"] in spec["flinkVersion"]["enum"]


def test_checkov_passes_the_rendered_manifests_with_only_the_skips_its_config_justifies(rendered: Path) -> None:
    checkov = Path(os.environ.get("MCE_CHECKOV") or REPO / ".tools" / "checkov" / "bin" / "checkov")
    if not checkov.is_file():
        pytest.skip("checkov is not installed: run deploy/check/checkov.sh")
    config = (CHECK / "checkov-k8s.yaml").read_text()
    skips = re.findall(r"^\s+- (CKV_\w+)", config, re.MULTILINE)
    for check in skips:
        assert re.search(rf"# {check} \"", config), f"{check} is skipped without a reason"
    run(SCRIPT, "checkov", str(rendered), env=k8s_env(), timeout=900)


def test_checkov_refuses_a_privileged_root_pod(tmp_path: Path) -> None:
    checkov = Path(os.environ.get("MCE_CHECKOV") or REPO / ".tools" / "checkov" / "bin" / "checkov")
    if not checkov.is_file():
        pytest.skip("checkov is not installed: run deploy/check/checkov.sh")
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: mce}\n"
        "spec:\n  containers:\n    - name: bad\n      image: bad:1\n"
        "      securityContext: {privileged: true, runAsUser: 0}\n"
    )
    done = subprocess.run(
        [SCRIPT, "checkov", str(tmp_path)], env={**os.environ, **k8s_env()}, capture_output=True, text=True, timeout=900
    )
    assert done.returncode != 0
    assert "CKV_K8S_16" in done.stdout  # privileged containers


def test_trivy_finds_no_misconfiguration_in_the_rendered_manifests(rendered: Path) -> None:
    tool("trivy")
    run(SCRIPT, "trivy", str(rendered), env=k8s_env(), timeout=900)


def test_trivy_refuses_a_privileged_root_pod(tmp_path: Path) -> None:
    tool("trivy")
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: mce}\nspec:\n"
        "  selector: {matchLabels: {app: bad}}\n  template:\n    metadata: {labels: {app: bad}}\n    spec:\n"
        "      containers:\n        - name: bad\n          image: bad:1\n"
        "          securityContext: {privileged: true, runAsUser: 0}\n"
    )
    done = subprocess.run(
        [SCRIPT, "trivy", str(tmp_path)], env={**os.environ, **k8s_env()}, capture_output=True, text=True, timeout=900
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "KSV" in done.stdout + done.stderr


# --- names, replicas, budgets, policies, monitors -----------------------------------------------------------------


def test_every_eks_deployable_has_a_base_and_an_aws_overlay_with_its_one_name_end_to_end(rendered: Path) -> None:
    for name in EKS:
        assert (K8S / "base" / name / "kustomization.yaml").is_file()
        overlay = yaml.safe_load((K8S / "aws" / name / "kustomization.yaml").read_text())
        assert overlay["resources"] == [f"../../base/{name}"]
        assert [image["name"] for image in overlay["images"]] == [name]
        items = objects(rendered, name)
        deployment = one(items, "Deployment", name)
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["app"] == name
        [container] = pod["spec"]["containers"]
        assert container["name"] == name
        assert re.fullmatch(rf"[0-9]+\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/{name}:[\w.-]+", container["image"])
        assert not container["image"].endswith(":latest")
        for obj in items:
            if obj["kind"] != "ServiceMonitor":
                assert obj["metadata"].get("namespace") == "mce", f"{obj['kind']} {obj['metadata']['name']}"
    assert {p.name for p in (K8S / "base").iterdir()} == {*EKS, "common"}


def test_python_services_run_mce_serve_on_port_8000_and_migrations_run_mce_migrate(rendered: Path) -> None:
    for name in PYTHON_SERVICES:
        items = objects(rendered, name)
        [container] = one(items, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["mce", "serve", name]
        assert container["ports"][0] == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
        jobs = find(items, "Job")
        if name in MIGRATED:
            [job] = jobs
            assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
            [migrate] = job["spec"]["template"]["spec"]["containers"]
            assert migrate["command"] == ["mce", "migrate", name]
            assert migrate["image"] == container["image"]
            assert registry.BY_NAME[name].migrations
        else:
            assert jobs == []


def test_hpas_are_exactly_where_the_design_has_them_with_its_ranges_and_a_60_percent_cpu_target(rendered: Path) -> None:
    for name, replicas in EKS.items():
        items = objects(rendered, name)
        hpas = find(items, "HorizontalPodAutoscaler")
        deployment = one(items, "Deployment", name)
        if replicas is None:
            assert hpas == []
            assert deployment["spec"]["replicas"] == 1
            continue
        [hpa] = hpas
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert (spec["minReplicas"], spec["maxReplicas"]) == replicas
        assert spec["metrics"] == [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
            }
        ]
        # The HPA owns the count: a replicas field would fight it on every ArgoCD sync.
        assert "replicas" not in deployment["spec"]


def test_every_deployable_has_one_pod_disruption_budget_with_exactly_one_rule(rendered: Path) -> None:
    for name, replicas in EKS.items():
        [pdb] = find(objects(rendered, name), "PodDisruptionBudget")
        spec = pdb["spec"]
        rules = {key: spec[key] for key in ("minAvailable", "maxUnavailable") if key in spec}
        assert rules == ({"minAvailable": 1} if replicas and replicas[0] >= 2 else {"maxUnavailable": 1}), name
        assert spec["selector"]["matchLabels"] == {"app": name, "component": "server"}


def selects(policy: dict[str, Any], name: str) -> bool:
    """Whether a policy's pod selector picks the deployable's server pods."""
    return policy["spec"]["podSelector"].get("matchLabels") == {"app": name, "component": "server"}


def peers(rules: list[dict[str, Any]], key: str, port: int) -> set[str]:
    """The apps a policy's rules let through on a port (pod selectors in the same namespace)."""
    apps = set()
    for rule in rules:
        if any(p["port"] == port for p in rule.get("ports", [])):
            for peer in rule.get(key, []):
                label = peer.get("podSelector", {}).get("matchLabels", {}).get("app")
                if label and "namespaceSelector" not in peer:
                    apps.add(label)
    return apps


# Who calls whom (ARCHITECTURE.md's data flow).
CALLS = {
    "frontend": {"product", "search", "cart", "order", "analytics"},
    "order": {"cart", "product"},
    "cart": {"product"},
    "search": {"product"},
    "events-producer": {"product"},
}


def test_network_policies_allow_exactly_the_calls_of_the_data_flow_and_prometheus(rendered: Path) -> None:
    common = objects(rendered, "common")
    deny = one(common, "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name in EKS:
        [policy] = [p for p in find(objects(rendered, name), "NetworkPolicy") if selects(p, name)]
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert peers(spec.get("egress", []), "to", 8000) == CALLS.get(name, set()), name
        callers = {caller for caller, callees in CALLS.items() if name in callees}
        assert peers(spec.get("ingress", []), "from", 8000) == callers, name
        if name not in NOT_SCRAPED:
            metrics_port = 9000 if name == "frontend" else 8000
            prometheus = [
                rule
                for rule in spec["ingress"]
                for peer in rule["from"]
                if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                == "observability"
            ]
            assert [r["ports"] for r in prometheus] == [[{"protocol": "TCP", "port": metrics_port}]], name
        dns = [r for r in spec["egress"] if {"protocol": "UDP", "port": 53} in r.get("ports", [])]
        assert dns, f"{name} cannot resolve names"
        for rule in spec["egress"]:
            assert rule.get("to"), f"{name}: an egress rule without a destination allows everything"
            assert rule.get("ports"), f"{name}: an egress rule without ports allows every port"


def test_every_scraped_deployable_has_a_servicemonitor_for_its_metrics_port(rendered: Path) -> None:
    for name in EKS:
        items = objects(rendered, name)
        monitors = find(items, "ServiceMonitor")
        if name in NOT_SCRAPED:
            assert monitors == []
            continue
        [monitor] = monitors
        assert monitor["metadata"]["namespace"] == "observability"
        assert monitor["metadata"]["labels"]["team"] == "mce"
        spec = monitor["spec"]
        assert spec["namespaceSelector"] == {"matchNames": ["mce"]}
        [endpoint] = spec["endpoints"]
        assert endpoint["path"] == "/metrics" and endpoint["interval"] == "10s"
        services = [
            s
            for s in find(items, "Service")
            if all(s["metadata"]["labels"].get(k) == v for k, v in spec["selector"]["matchLabels"].items())
        ]
        assert len(services) == 1, f"{name}: the monitor selects {len(services)} Services"
        [port] = [p for p in services[0]["spec"]["ports"] if p["name"] == endpoint["port"]]
        assert port["port"] == (9000 if name == "frontend" else 8000)
        assert services[0]["spec"]["type"] == "ClusterIP"


def test_the_frontend_and_product_internal_are_load_balancers_and_nothing_else_is(rendered: Path) -> None:
    frontend = one(objects(rendered, "frontend"), "Service", "frontend")
    assert frontend["spec"]["type"] == "LoadBalancer"
    assert {p["port"]: p["targetPort"] for p in frontend["spec"]["ports"]} == {80: "http", 443: "http"}
    annotations = frontend["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"].startswith("arn:aws:acm:")
    internal = one(objects(rendered, "product"), "Service", "product-internal")
    assert internal["spec"]["type"] == "LoadBalancer"
    assert internal["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    for name in EKS:
        for service in find(objects(rendered, name), "Service"):
            if service["metadata"]["name"] not in ("frontend", "product-internal"):
                assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


# --- pod security -------------------------------------------------------------------------------------------------


def pod_specs(rendered: Path) -> list[tuple[str, dict[str, Any]]]:
    """(what, pod spec) of every Deployment and Job on EKS."""
    out = []
    for name in EKS:
        for obj in objects(rendered, name):
            if obj["kind"] in ("Deployment", "Job"):
                out.append((f"{obj['kind']} {obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
    return out


def test_every_pod_runs_as_uid_10001_read_only_without_capabilities_or_an_api_token(rendered: Path) -> None:
    for what, spec in pod_specs(rendered):
        assert spec["automountServiceAccountToken"] is False, what
        assert spec["securityContext"]["runAsNonRoot"] is True, what
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, what
        mounts = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsUser"] == 10001, what
            assert context["readOnlyRootFilesystem"] is True, what
            assert context["allowPrivilegeEscalation"] is False, what
            assert context["capabilities"] == {"drop": ["ALL"]}, what
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
            paths = {m["mountPath"]: mounts[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in paths["/tmp"], what


def test_every_server_has_startup_readiness_and_liveness_probes(rendered: Path) -> None:
    for name in PYTHON_SERVICES:
        [container] = one(objects(rendered, name), "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert "startupProbe" in container
        data_dir = {e["name"]: e.get("value") for e in container["env"]}["MCE_DATA_DIR"]
        assert data_dir in {m["mountPath"] for m in container["volumeMounts"]}
    [mirror] = one(objects(rendered, "mirrormaker"), "Deployment", "mirrormaker")["spec"]["template"]["spec"][
        "containers"
    ]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(mirror)


def test_every_service_account_carries_an_irsa_role_and_no_pod_uses_aws_keys(rendered: Path) -> None:
    for name in PYTHON_SERVICES:
        items = objects(rendered, name)
        account = one(items, "ServiceAccount", name)
        assert re.fullmatch(
            r"arn:aws:iam::[0-9]{12}:role/[\w+=,.@-]+", account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        )
        assert one(items, "Deployment", name)["spec"]["template"]["spec"]["serviceAccountName"] == name
    for what, spec in pod_specs(rendered):
        for container in spec["containers"]:
            names = {e["name"] for e in container.get("env", [])}
            assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}, what


# --- settings: what the manifests give is what the code reads ----------------------------------------------------


def secret_template_keys() -> set[str]:
    """The keys the Secret template documents."""
    return set(yaml.safe_load((K8S / "base" / "common" / "secret-template.yaml").read_text())["stringData"])


def test_the_secret_template_is_in_no_kustomization_and_holds_no_values() -> None:
    template = yaml.safe_load((K8S / "base" / "common" / "secret-template.yaml").read_text())
    assert set(template["stringData"].values()) == {""}
    for path in K8S.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        listed = [*kustomization.get("resources", []), *kustomization.get("components", [])]
        assert not [item for item in listed if "secret-template" in item], path
        assert "secretGenerator" not in kustomization, f"{path}: secrets are never generated from Git"


def common_config(rendered: Path) -> dict[str, str]:
    """The data of the mce-common ConfigMap, as the aws overlay renders it."""
    return one(objects(rendered, "common"), "ConfigMap", "mce-common")["data"]


def container_env(rendered: Path, name: str, config: dict[str, str], kind: str = "Deployment") -> dict[str, str]:
    """The environment a deployable's container (or its migration Job's) gets: envFrom, env, dummy secret values."""
    workload = one(objects(rendered, name), kind, name if kind == "Deployment" else f"{name}-migrate")
    [container] = workload["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "mce-common"
        env.update(config)
    templates = secret_template_keys()
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            assert ref["secretKeyRef"]["name"] == "mce-secrets"
            assert ref["secretKeyRef"]["key"] in templates, (
                f"{name}: {ref['secretKeyRef']['key']} is not in the template"
            )
            env[item["name"]] = f"dummy-{item['name'].lower()}-0123456789abcdef"
        else:
            key = ref["configMapKeyRef"]["key"]
            assert key in config, f"{name}: mce-common has no {key}"
            env[item["name"]] = config[key]
    return env


def variables_read(cls: type) -> set[str]:
    """Every environment variable a settings class reads: MCE_<FIELD>, or its aliases."""
    names = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices if str(choice).isupper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"MCE_{field_name.upper()}")
    return names


def test_every_variable_the_manifests_set_is_one_the_code_reads(rendered: Path) -> None:
    config = common_config(rendered)
    everyone = set().union(*(variables_read(registry.BY_NAME[n].settings_class()) for n in PYTHON_SERVICES))
    serve = variables_read(ServeSettings)
    unread = set(config) - everyone - serve - LIBRARY_VARIABLES
    assert not unread, f"mce-common sets variables no service reads: {sorted(unread)}"
    for name in PYTHON_SERVICES:
        reads = variables_read(registry.BY_NAME[name].settings_class()) | serve | LIBRARY_VARIABLES
        [container] = one(objects(rendered, name), "Deployment", name)["spec"]["template"]["spec"]["containers"]
        own = {item["name"] for item in container["env"]}
        assert own <= reads, f"{name} sets variables it does not read: {sorted(own - reads)}"


def test_a_misspelt_variable_would_be_caught() -> None:
    reads = variables_read(registry.BY_NAME["cart"].settings_class())
    assert "DYNAMODB_TABLE" in reads and "MCE_CART_STORE" in reads
    assert "MCE_CART_STOR" not in reads and "DYNAMO_TABLE" not in reads


def secrets_needed(settings: Any) -> set[str]:
    """The secret fields a service's settings must carry in production for the backends they chose."""
    fields = set(type(settings).model_fields)
    needed = {f for f in ("admin_token", "session_secret", "image_processor_token") if f in fields}
    if getattr(settings, "bus", None) == "kafka":
        needed |= {"kafka_sasl_username", "kafka_sasl_password"}
    if getattr(settings, "bus", None) == "eventhubs":
        needed.add("eventhubs_connection_string")
    if isinstance(settings, DatabaseSettings) and getattr(settings, "cart_store", "sqlite") == "sqlite":
        needed.add("rds_password")
    if getattr(settings, "search_index", None) == "opensearch":
        needed |= {"opensearch_username", "opensearch_password"}
    return needed


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_each_service_starts_in_production_from_the_rendered_environment_on_the_real_backends(
    rendered: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(rendered, name, common_config(rendered))
    assert env["MCE_ENV"] == "production"
    for variable in list(os.environ):
        if variable.startswith(("MCE_", "RDS_", "KAFKA_", "EVENTHUBS_", "OPENSEARCH_", "DYNAMODB_", "S3_", "SQS_")):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    spec = registry.BY_NAME[name]
    settings = load_settings(spec.settings_class())
    serve = load_settings(ServeSettings)
    assert serve.port == 8000 and settings.host == "0.0.0.0"
    for field, value in EXPECTED_BACKENDS[name].items():
        assert getattr(settings, field) == value, f"{name}.{field}"
    missing = [f for f in secrets_needed(settings) if getattr(settings, f) is None]
    assert not missing, f"{name} runs without {missing}"
    if getattr(settings, "bus", None) == "kafka":
        assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
        assert settings.kafka_create_topics is False
    if isinstance(settings, DatabaseSettings) and name in MIGRATED:
        url = settings.resolved_url()
        assert url.startswith("postgresql+psycopg://") and f"/mce_{name}?" in url
        assert settings.migrate_on_start is False
    if name == "frontend":
        assert settings.metrics_port == 9000 and settings.public_metrics is False
        assert settings.public_url and settings.public_url.startswith("https://")
    for variable in ("MCE_PRODUCT_URL", "MCE_CART_URL"):
        field = variable.removeprefix("MCE_").lower()
        if field in type(settings).model_fields:
            assert getattr(settings, field) == f"http://{field.removesuffix('_url')}.mce.svc.cluster.local:8000"


@pytest.mark.parametrize("name", sorted(MIGRATED))
def test_each_migration_job_reaches_the_service_s_own_database_on_rds(
    rendered: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(rendered, name, common_config(rendered), kind="Job")
    for variable in list(os.environ):
        if variable.startswith(("MCE_", "RDS_")):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings(registry.BY_NAME[name].settings_class())
    assert settings.production and settings.rds_password is not None
    assert settings.resolved_url().startswith("postgresql+psycopg://mce:dummy-rds_password-0123456789abcdef@")
    assert f"/mce_{name}?sslmode=" in settings.resolved_url()


def test_mirrormaker_gets_every_variable_its_properties_read(rendered: Path) -> None:
    items = objects(rendered, "mirrormaker")
    properties = one(items, "ConfigMap", "mirrormaker")["data"]["mm2.properties"]
    wanted = set(re.findall(r"\$\{env:([A-Z_]+)\}", properties))
    env = container_env(rendered, "mirrormaker", common_config(rendered))
    assert wanted and wanted <= set(env), sorted(wanted - set(env))
    assert "replication.policy.class=mce.mirror.RenameReplicationPolicy" in properties
    assert "replication.policy.topic.renames=user-events:events" in properties
    [container] = one(items, "Deployment", "mirrormaker")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["/etc/mirrormaker/mm2.properties"]
    # The settings every run of ours shares (locally and in the image's own config) are this one's too.
    shared = (REPO / "deploy" / "mirrormaker" / "replication.properties").read_text().splitlines()
    lines = {line.strip() for line in properties.splitlines()}
    assert [line for line in shared if line and not line.startswith("#") and line not in lines] == []


def test_the_stream_job_s_arguments_and_environment_are_what_flink_job_reads(rendered: Path) -> None:
    from mce.stream import flink_job

    flink = one(objects(rendered, "azure-stream"), "FlinkDeployment", "stream")
    job = flink["spec"]["job"]
    assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    assert job["args"][:2] == ["-pym", "mce.stream.flink_job"]
    args = flink_job.parse_args(job["args"][2:])
    assert (args.source_topic, args.sink_topic) == (["events"], ["results"])
    assert args.jar.startswith("/opt/flink/lib/")
    [container] = flink["spec"]["podTemplate"]["spec"]["containers"]
    env = {item["name"]: item.get("value", f"given-{item['name']}") for item in container["env"]}
    endpoint = flink_job.endpoint_from_env(env)
    assert endpoint.bootstrap == "given-EVENTHUBS_BOOTSTRAP"
    assert endpoint.connection_string == "given-EVENTHUBS_CONNECTION_STRING"
    assert endpoint.security_protocol == "SASL_SSL"
    assert flink["spec"]["image"].endswith("/stream:" + flink["spec"]["image"].rsplit(":", 1)[1])


# --- configure.sh -------------------------------------------------------------------------------------------------

AWS_OUTPUTS = {
    "aws_region": "eu-west-1",
    "rds_host": "db.abc.eu-west-1.rds.amazonaws.com",
    "rds_port": 5432,
    "rds_user": "mce",
    "rds_sslmode": "verify-full",
    "kafka_bootstrap": "b-1.k.eu-west-1.amazonaws.com:9096",
    "opensearch_endpoint": "https://vpc-s.eu-west-1.es.amazonaws.com",
    "dynamodb_table": "shop-carts",
    "dynamodb_outbox_table": "shop-carts-outbox",
    "s3_bucket": "shop-uploads",
    "public_url": "https://shop.example.org",
    "ecr_registry": "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
    "irsa_role_arns": {n: f"arn:aws:iam::210987654321:role/shop-{n}" for n in ("frontend", "product", "cart")},
    "acm_certificate_arn": "arn:aws:acm:eu-west-1:210987654321:certificate/1111",
}
AZURE_OUTPUTS = {"eventhubs_bootstrap": "shop.servicebus.windows.net:9093", "acr_login_server": "shop.azurecr.io"}


def configure(tmp_path: Path, aws: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """configure.sh --no-secrets on a copy of deploy/k8s and deploy/gitops, from outputs files."""
    import shutil

    root = tmp_path / "repo"
    for part in ("k8s", "gitops"):
        shutil.copytree(K8S.parent / part, root / "deploy" / part)
    files = {}
    for side, values in (("aws", aws), ("azure", AZURE_OUTPUTS)):
        files[side] = tmp_path / f"{side}.json"
        files[side].write_text(json.dumps({k: {"value": v, "sensitive": False} for k, v in values.items()}))
    env = {
        **os.environ,
        "MCE_K8S_ROOT": str(root),
        "MCE_TF_AWS_OUTPUTS": str(files["aws"]),
        "MCE_TF_AZURE_OUTPUTS": str(files["azure"]),
        "KUSTOMIZE": tool("kustomize"),
    }
    return subprocess.run(
        [str(K8S / "aws" / "configure.sh"), "--no-secrets", *args], env=env, capture_output=True, text=True
    )


def test_configure_fills_the_overlays_from_terraform_outputs(tmp_path: Path) -> None:
    done = configure(tmp_path, AWS_OUTPUTS, "--tag", "abc1234", "--repo", "https://git.example.org/shop.git")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "repo"
    kustomize = tool("kustomize")
    config = dict(line.split("=", 1) for line in (root / "deploy/k8s/aws/common/config.env").read_text().splitlines())
    assert config["RDS_HOST"] == AWS_OUTPUTS["rds_host"] and config["MCE_PUBLIC_URL"] == "https://shop.example.org"
    assert config["EVENTHUBS_BOOTSTRAP"] == AZURE_OUTPUTS["eventhubs_bootstrap"]
    for name in EKS:
        items = [d for d in yaml.safe_load_all(run(kustomize, "build", str(root / "deploy/k8s/aws" / name))) if d]
        [container] = one(items, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"{AWS_OUTPUTS['ecr_registry']}/{name}:abc1234"
        if name == "mirrormaker":
            continue
        annotations = one(items, "ServiceAccount", name)["metadata"].get("annotations", {})
        assert annotations.get("eks.amazonaws.com/role-arn") == AWS_OUTPUTS["irsa_role_arns"].get(name), name
    stream = [d for d in yaml.safe_load_all(run(kustomize, "build", str(root / "deploy/k8s/azure/stream"))) if d]
    assert one(stream, "FlinkDeployment", "stream")["spec"]["image"] == "shop.azurecr.io/stream:abc1234"
    assert "https://git.example.org/shop.git" in (root / "deploy/gitops/apps/cart.yaml").read_text()


def test_configure_stops_when_terraform_lacks_an_output_the_configmap_needs(tmp_path: Path) -> None:
    done = configure(tmp_path, {k: v for k, v in AWS_OUTPUTS.items() if k != "rds_host"})
    assert done.returncode != 0
    assert "no output 'rds_host'" in done.stderr


# --- a real API server ----------------------------------------------------------------------------------------------

BOTH_RULES_PDB = """apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: both, namespace: mce}
spec:
  minAvailable: 1
  maxUnavailable: 1
  selector: {matchLabels: {app: both}}
"""

# Valid to the schemas, but its pods would break the restricted Pod Security Standard namespace mce enforces.
ROOT_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: root, namespace: mce}
spec:
  selector: {matchLabels: {app: root}}
  template:
    metadata: {labels: {app: root}}
    spec:
      containers: [{name: root, image: "root:1", securityContext: {runAsUser: 0}}]
"""


@pytest.mark.apiserver
def test_the_api_server_accepts_every_rendered_manifest_and_refuses_a_pdb_with_both_rules(
    rendered: Path, tmp_path: Path
) -> None:
    for name in ("etcd", "kube-apiserver", "kubectl"):
        tool(name)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pdb.yaml").write_text(BOTH_RULES_PDB)
    (bad / "root.yaml").write_text(ROOT_DEPLOYMENT)
    # kubeconform's schemas let this PDB through: only the server knows the two rules exclude each other.
    assert kubeconform(bad / "pdb.yaml").returncode == 0
    done = subprocess.run(
        [str(CHECK / "apiserver.sh"), str(rendered), str(CHECK / "crds"), str(bad)],
        env={**os.environ, **k8s_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = dict(
        reversed(line.split(" ", 1)) for line in done.stdout.splitlines() if line.startswith(("ok ", "FAILED "))
    )
    failed = {path for path, verdict in results.items() if verdict == "FAILED"}
    assert failed == {str(bad / "pdb.yaml"), str(bad / "root.yaml")}, done.stdout + done.stderr[-3000:]
    assert "minAvailable and maxUnavailable cannot be both set" in done.stdout
    assert "would violate PodSecurity" in done.stdout
    assert len(results) == len(list(rendered.rglob("*.yaml"))) + len(list((CHECK / "crds").glob("*.yaml"))) + 2


def test_the_stream_job_s_pod_template_is_a_valid_pod(rendered: Path, tmp_path: Path) -> None:
    # The FlinkDeployment schema keeps podTemplate open (it is a whole Pod): check it against the Pod schema instead.
    flink = one(objects(rendered, "azure-stream"), "FlinkDeployment", "stream")
    pod = {"apiVersion": "v1", "kind": "Pod", **flink["spec"]["podTemplate"]}
    pod["metadata"] = {**pod.get("metadata", {}), "name": "stream-template"}
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    done = kubeconform(tmp_path / "pod.yaml")
    assert done.returncode == 0, done.stdout
    pod["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"nam": "x"}}]
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    assert kubeconform(tmp_path / "pod.yaml").returncode != 0
