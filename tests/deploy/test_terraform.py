"""The Terraform for AWS and Azure, checked offline: formatting, parsing, tflint, checkov, the conftest policies, and
its agreement with the code (outputs the ConfigMap needs, ECR repositories, the Lambda, the DynamoDB keys, the
Function's settings). Each checker is also shown a broken snippet, to prove it can fail.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from mce import registry
from mce.functions.image_processor import handler as image_processor_handler
from mce.services.cart.settings import CartSettings
from mce.services.cart.store import dynamo
from mce.stream.settings import StreamSettings
from tests.conftest import skip_or_fail
from tests.deploy.conftest import DEPLOY, REPO, run, tool

pytestmark = pytest.mark.deploy

TERRAFORM = DEPLOY / "terraform"
CHECK = DEPLOY / "check"
ROOTS = ("aws", "azure")
POLICY = CHECK / "policy" / "terraform"
CHECKOV_CONFIG = CHECK / "checkov-terraform.yaml"
TFLINT_CONFIG = CHECK / "tflint.hcl"
ENV = {"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}

# The ConfigMap mce-common's keys that Terraform provides (deploy-common: output = the key lower-cased), by root.
CONFIGMAP_OUTPUTS = {
    "aws": {
        "aws_region",
        "rds_host",
        "rds_port",
        "rds_user",
        "rds_sslmode",
        "kafka_bootstrap",
        "opensearch_endpoint",
        "dynamodb_table",
        "dynamodb_outbox_table",
        "s3_bucket",
        "public_url",
    },
    "azure": {"eventhubs_bootstrap"},
}
# The Secret mce-secrets' keys as sensitive outputs: lower-cased, without the MCE_ prefix (the names
# deploy/k8s/aws/configure.sh reads).
SECRET_KEYS = {
    "aws": {
        "RDS_PASSWORD",
        "MCE_KAFKA_SASL_USERNAME",
        "MCE_KAFKA_SASL_PASSWORD",
        "MCE_OPENSEARCH_USERNAME",
        "MCE_OPENSEARCH_PASSWORD",
        "MCE_ADMIN_TOKEN",
        "MCE_SESSION_SECRET",
        "MCE_IMAGE_PROCESSOR_TOKEN",
    },
    "azure": {"EVENTHUBS_CONNECTION_STRING"},
}
SECRET_OUTPUTS = {root: {key.removeprefix("MCE_").lower() for key in keys} for root, keys in SECRET_KEYS.items()}
# What the CI and the manifests need besides (deploy-common: "Terraform outputs also give").
OTHER_OUTPUTS = {
    "aws": {"ecr_registry", "irsa_role_arns", "acm_certificate_arn", "aws_load_balancer_controller_role_arn"},
    "azure": {"acr_login_server"},
}
# Deployables that are not EKS images: the Flink job goes to ACR, the image processor is a Lambda zip.
NOT_ON_ECR = {"stream", "image-processor"}
# Services whose code calls AWS APIs and so get an IRSA role; nothing else does.
IRSA_SERVICES = {"cart", "product", "frontend"}


def _plain(value: Any) -> Any:
    """python-hcl2's tree without its quoting and markers: keys and string literals as written, unquoted."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_root(root: str) -> dict[str, Any]:
    """One root's blocks merged over its files: {"resource": {type: {name: config}}, "variable": {...}, ...}."""
    merged: dict[str, Any] = {}
    for path in sorted((TERRAFORM / root).glob("*.tf")):
        tree = _plain(hcl2.loads(path.read_text()))
        for kind, blocks in tree.items():
            if kind in ("resource", "data"):
                for block in blocks:
                    for type_, named in block.items():
                        merged.setdefault(kind, {}).setdefault(type_, {}).update(named)
            elif kind in ("variable", "output", "locals"):
                for block in blocks:
                    merged.setdefault(kind, {}).update(block)
            else:
                merged.setdefault(kind, []).extend(blocks)
    return merged


@pytest.fixture(scope="module")
def aws() -> dict[str, Any]:
    return load_root("aws")


@pytest.fixture(scope="module")
def azure() -> dict[str, Any]:
    return load_root("azure")


def _copy_root(root: str, tmp_path: Path) -> Path:
    """A scratch copy of a root, to break without touching the real one."""
    target = tmp_path / root
    shutil.copytree(TERRAFORM / root, target)
    return target


def _fails(*command: str, cwd: Path = REPO) -> str:
    """Run a checker that must reject its input; its output."""
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"{' '.join(command)} accepted a broken input:\n{output[-4000:]}"
    return output


def _conftest_test(root: Path) -> tuple[str, ...]:
    """The conftest command that tests one root against the policies."""
    return (
        tool("conftest"), "test", "--no-color", "--parser", "hcl2", "--combine", "--namespace", "terraform",
        "-p", str(POLICY), str(root),
    )  # fmt: skip


def _checkov() -> str:
    path = Path(os.environ.get("CHECKOV") or REPO / ".tools" / "checkov" / "bin" / "checkov")
    if not path.is_file():
        skip_or_fail("checkov is not installed: run deploy/check/checkov.sh")
    return str(path)


# --- formatting and parsing --------------------------------------------------------------------------------------


def test_terraform_is_formatted() -> None:
    run(tool("tofu"), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM), env=ENV)


def test_tofu_fmt_rejects_a_misformatted_file(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('variable "x" {\ndescription="x"\n  type = string\n}\n')
    _fails(tool("tofu"), "fmt", "-check", "-recursive", str(tmp_path))


def test_every_tf_file_parses_with_python_hcl2() -> None:
    files = sorted(TERRAFORM.rglob("*.tf"))
    assert {path.parent.name for path in files} == set(ROOTS)
    for path in files:
        hcl2.loads(path.read_text())


def test_python_hcl2_rejects_broken_hcl() -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - the parser's error type is its own (lark)
        hcl2.loads('resource "aws_s3_bucket" "x" {\n  bucket = \n')


# --- tflint ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ROOTS)
def test_tflint_passes_with_every_bundled_terraform_rule(root: str) -> None:
    run(
        tool("tflint"),
        f"--chdir={TERRAFORM / root}",
        f"--config={TFLINT_CONFIG}",
        "--minimum-failure-severity=notice",
        "--no-color",
    )


def test_tflint_rejects_an_undocumented_untyped_unused_variable(tmp_path: Path) -> None:
    root = _copy_root("aws", tmp_path)
    (root / "variables.tf").write_text((root / "variables.tf").read_text() + '\nvariable "unused" {}\n')
    output = _fails(
        tool("tflint"),
        f"--chdir={root}",
        f"--config={TFLINT_CONFIG}",
        "--minimum-failure-severity=notice",
        "--no-color",
    )
    for rule in ("terraform_documented_variables", "terraform_typed_variables", "terraform_unused_declarations"):
        assert rule in output


# --- checkov -----------------------------------------------------------------------------------------------------


def test_checkov_passes_with_only_the_listed_skips() -> None:
    output = run(_checkov(), "--config-file", str(CHECKOV_CONFIG), "-d", str(TERRAFORM), env=ENV)
    assert "Failed checks: 0" in output


def test_checkov_rejects_a_public_unencrypted_database(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text(
        'resource "aws_db_instance" "bad" {\n  engine = "postgres"\n  instance_class = "db.t4g.micro"\n'
        "  publicly_accessible = true\n  storage_encrypted = false\n}\n"
    )
    output = _fails(_checkov(), "--config-file", str(CHECKOV_CONFIG), "-d", str(tmp_path))
    assert "CKV_AWS_16" in output  # storage not encrypted
    assert "CKV_AWS_17" in output  # publicly accessible


def test_every_checkov_skip_has_a_reason() -> None:
    lines = [line for line in CHECKOV_CONFIG.read_text().splitlines() if re.match(r"\s*-\s*CKV", line)]
    skips = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    assert len(lines) == len(skips) > 0
    for line in lines:
        assert re.match(r"\s*-\s*CKV2?_[A-Z]+_\d+\s+#\s*\S.{20,}", line), f"skip without a reason: {line.strip()}"
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\s*\S.{20,}", line), f"{path}: {line.strip()}"


# --- conftest policies -------------------------------------------------------------------------------------------


def test_policy_unit_tests_deny_each_bad_snippet() -> None:
    output = run(tool("conftest"), "verify", "--no-color", "-p", str(POLICY))
    assert re.search(r"(\d+) tests, \1 passed", output), output


@pytest.mark.parametrize("root", ROOTS)
def test_conftest_policies_pass(root: str) -> None:
    run(*_conftest_test(TERRAFORM / root))


def test_conftest_denies_a_broken_aws_root(tmp_path: Path) -> None:
    root = _copy_root("aws", tmp_path)
    edits = {
        "s3_lambda.tf": ('filter_prefix = "uploads/"', 'filter_prefix = ""'),
        "rds.tf": ("publicly_accessible    = false", "publicly_accessible    = true"),
        "ecr.tf": ("scan_on_push = true", "scan_on_push = false"),
        "msk.tf": ('client_broker = "TLS"', 'client_broker = "TLS_PLAINTEXT"'),
        "opensearch.tf": (
            "node_to_node_encryption {\n    enabled = true",
            "node_to_node_encryption {\n    enabled = 0",
        ),
        "dynamodb.tf": (
            "server_side_encryption {\n    enabled     = true",
            "server_side_encryption {\n    enabled = 0",
        ),
        "main.tf": ("region = var.aws_region", 'region = var.aws_region\n  secret_key = "not-a-real-key-but-literal"'),
    }
    for name, (old, new) in edits.items():
        text = (root / name).read_text()
        assert old in text, f"{name} no longer has {old!r}: update this test"
        (root / name).write_text(text.replace(old, new, 1))
    output = _fails(*_conftest_test(root))
    for expected in (
        'filter_prefix = "uploads/"',
        "publicly_accessible = false",
        "must scan on push",
        'client_broker = "TLS"',
        "node_to_node_encryption",
        "must enable server_side_encryption",
        "hard-coded credential",
    ):
        assert expected in output, f"no denial mentioning {expected!r}:\n{output}"


# --- agreement with the code and the settings contract -----------------------------------------------------------


@pytest.mark.parametrize("root", ROOTS)
def test_every_output_the_configmap_and_secret_need_exists(root: str) -> None:
    outputs = load_root(root)["output"]
    missing = (CONFIGMAP_OUTPUTS[root] | SECRET_OUTPUTS[root] | OTHER_OUTPUTS[root]) - set(outputs)
    assert not missing, f"{root} lacks outputs {sorted(missing)}"
    for name in SECRET_OUTPUTS[root]:
        assert outputs[name].get("sensitive") is True, f"output {name} must be sensitive"
    for name, output in outputs.items():
        assert output.get("description"), f"output {name} has no description"


def test_configmap_outputs_name_the_settings_the_code_reads() -> None:
    """Each ConfigMap output, upper-cased, is a setting some service reads (as itself or with the MCE_ prefix)."""
    names: set[str] = set()
    for spec in registry.SERVICES:
        for field_name, field in spec.settings_class().model_fields.items():
            names.add(f"MCE_{field_name.upper()}")
            names |= {str(choice).upper() for choice in getattr(field.validation_alias, "choices", [])}
    keys = {name.upper() for name in CONFIGMAP_OUTPUTS["aws"] | CONFIGMAP_OUTPUTS["azure"]}
    # AWS_REGION is read by boto3 itself, not by a settings class.
    unknown = {key for key in keys - {"AWS_REGION"} if key not in names and f"MCE_{key}" not in names}
    assert not unknown, f"outputs no service reads: {sorted(unknown)}"


def test_ecr_repositories_are_the_eks_images(aws: dict[str, Any]) -> None:
    images = aws["locals"]["images"]
    deployables = {spec.name for spec in registry.SERVICES} - NOT_ON_ECR
    assert len(images) == len(set(images))
    assert set(images) == deployables | {"mirrormaker"}
    repo = aws["resource"]["aws_ecr_repository"]["images"]
    assert repo["name"] == "${each.value}"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True


def test_lambda_notification_fires_only_for_uploads(aws: dict[str, Any]) -> None:
    notifications = aws["resource"]["aws_s3_bucket_notification"]
    targets = [target for notification in notifications.values() for target in notification["lambda_function"]]
    assert targets
    for target in targets:
        assert target["filter_prefix"] == "uploads/"
        assert target["events"] == ["s3:ObjectCreated:*"]
    assert aws["locals"]["upload_prefix"] == "uploads/"


def test_lambda_cannot_write_where_it_is_triggered(aws: dict[str, Any]) -> None:
    statements = aws["data"]["aws_iam_policy_document"]["image_processor"]["statement"]
    writable = [r for s in statements if "s3:PutObject" in s["actions"] for r in s["resources"]]
    assert writable and all(r.endswith("/${local.thumbnail_prefix}*") for r in writable), writable
    assert aws["locals"]["thumbnail_prefix"] == "thumbnails/"


def test_lambda_handler_and_runtime_match_the_code(aws: dict[str, Any]) -> None:
    function = aws["resource"]["aws_lambda_function"]["image_processor"]
    module, _, name = function["handler"].rpartition(".")
    assert module == image_processor_handler.__name__
    target = getattr(image_processor_handler, name)
    assert list(inspect.signature(target).parameters) == ["event", "context"]
    assert function["runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = function["environment"][0]["variables"]
    assert env["MCE_BLOB_STORE"] == "s3"
    assert env["MCE_ENV"] == "production"
    assert {"S3_BUCKET", "MCE_PRODUCT_URL", "MCE_IMAGE_PROCESSOR_TOKEN"} <= set(env)
    assert function["reserved_concurrent_executions"] == "${var.image_processor_reserved_concurrency}"
    assert function["dead_letter_config"][0]["target_arn"]


def test_lambda_zip_is_the_one_the_packaging_script_builds(aws: dict[str, Any]) -> None:
    script = DEPLOY / "aws" / "package-image-processor.sh"
    if not script.is_file():
        pytest.skip("deploy/aws/package-image-processor.sh is not in this tree yet")
    built = re.search(r'out="\$\{1:-\$root/([^}]+)\}"', script.read_text())
    assert built, "the packaging script's default output is no longer where this test looks"
    assert aws["variable"]["image_processor_zip"]["default"] == f"../../../{built.group(1)}"


def test_dynamodb_tables_have_the_key_schema_the_cart_store_uses(aws: dict[str, Any]) -> None:
    tables = aws["resource"]["aws_dynamodb_table"]

    def keys(table: dict[str, Any]) -> list[tuple[str, str]]:
        found = [(table["hash_key"], "HASH")]
        if "range_key" in table:
            found.append((table["range_key"], "RANGE"))
        return found

    assert keys(tables["carts"]) == dynamo._KEYS["carts"]
    assert keys(tables["cart_outbox"]) == dynamo._KEYS["outbox"]
    for table in tables.values():
        assert {a["name"] for a in table["attribute"]} == {k for k, _ in keys(table)}
        assert "global_secondary_index" not in table  # the store queries no index
        assert table["point_in_time_recovery"][0]["enabled"] is True
    # The outbox table is named as CartSettings derives it from the carts table.
    default = aws["variable"]["dynamodb_table"]["default"]
    assert tables["cart_outbox"]["name"] == "${var.dynamodb_table}-outbox"
    assert CartSettings(cart_table=default).resolved_outbox_table() == f"{default}-outbox"


def test_irsa_roles_are_for_the_services_that_call_aws(aws: dict[str, Any]) -> None:
    assert set(aws["locals"]["irsa_policies"]) == IRSA_SERVICES
    assume = aws["data"]["aws_iam_policy_document"]["irsa_assume"]["statement"][0]
    subjects = [c for c in assume["condition"] if c["variable"].endswith(":sub")]
    assert subjects[0]["values"] == ["system:serviceaccount:${local.k8s_namespace}:${each.key}"]
    assert aws["locals"]["k8s_namespace"] == "mce"
    for service in IRSA_SERVICES:
        for statement in aws["data"]["aws_iam_policy_document"][f"irsa_{service}"]["statement"]:
            assert "*" not in statement["resources"], f"{service}: {statement}"
            assert not any(action.endswith(":*") for action in statement["actions"]), f"{service}: {statement}"


def _constants(path: Path) -> dict[str, Any]:
    """The module-level string constants of a source file, read without importing it."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def test_function_app_settings_are_what_the_function_reads(azure: dict[str, Any]) -> None:
    source = REPO / "src" / "mce" / "functions" / "analytics"
    app = _constants(source / "function_app.py")
    services = REPO / "src" / "mce" / "services" / "analytics" / "store"
    function = azure["resource"]["azurerm_linux_function_app"]["analytics"]
    settings = function["app_settings"]
    assert app["CONNECTION_SETTING"] in settings
    assert "listen" in azure["resource"]["azurerm_eventhub_authorization_rule"]["analytics_function"]
    assert settings[app["TABLE_SETTING"]] == "${var.analytics_table}"
    assert settings[app["CONTAINER_SETTING"]] == "${var.analytics_container}"
    assert azure["variable"]["analytics_table"]["default"] == _constants(services / "azure_tables.py")["TABLE_DEFAULT"]
    assert (
        azure["variable"]["analytics_container"]["default"]
        == _constants(services / "latest_blob.py")["CONTAINER_DEFAULT"]
    )
    assert function["https_only"] is True
    assert function["site_config"][0]["application_stack"][0]["python_version"] == (
        f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    assert app["HUB"] in azure["resource"]["azurerm_eventhub"]["hubs"]["for_each"]


def test_event_hubs_has_the_hubs_the_stream_job_and_analytics_use(azure: dict[str, Any]) -> None:
    hubs = azure["resource"]["azurerm_eventhub"]["hubs"]["for_each"]
    stream = StreamSettings()
    assert {stream.eventhubs_events_hub, stream.eventhubs_results_hub} <= set(re.findall(r'"?([a-z-]+)"?', hubs))
    namespace = azure["resource"]["azurerm_eventhub_namespace"]["main"]
    assert namespace["sku"] == "Standard"  # the tier with the Kafka endpoint
    assert azure["resource"]["azurerm_eventhub_consumer_group"]["stream"]["name"] == stream.stream_group


@pytest.mark.parametrize("root", ROOTS)
def test_versions_and_variables_are_pinned_and_documented(root: str) -> None:
    tree = load_root(root)
    terraform = tree["terraform"][0]
    assert terraform["required_version"].startswith(">=")
    for name, provider in terraform["required_providers"][0].items():
        assert re.match(r"~> \d+\.\d+", provider["version"]), f"{name} is not pinned: {provider}"
    for name, variable in tree["variable"].items():
        assert variable.get("description"), f"variable {name} has no description"
        assert variable.get("type"), f"variable {name} has no type"


@pytest.mark.parametrize("root", ROOTS)
def test_a_remote_backend_example_and_no_state_or_variables_are_committed(root: str) -> None:
    assert (TERRAFORM / root / "backend.tf.example").is_file()
    tracked = subprocess.run(
        ["git", "ls-files", str(TERRAFORM)], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    forbidden = [
        path for path in tracked if re.search(r"(\.tfstate(\..*)?|\.tfvars(\.json)?|\.tfplan|/\.terraform/.*)$", path)
    ]
    assert not forbidden, forbidden
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", str(TERRAFORM / root / "terraform.tfvars")], cwd=REPO
    )
    assert ignored.returncode == 0, "terraform.tfvars must be git-ignored"


def test_terraform_check_script_is_clean_shell() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    run(shellcheck, str(CHECK / "terraform.sh"))


# The deploy workflow's repository variables, each from an output (the subscription is the operator's own).
WORKFLOW_VARIABLES = {
    "AWS_REGION": "aws_region",
    "AWS_DEPLOY_ROLE_ARN": "github_deploy_role_arn",
    "LAMBDA_FUNCTION_NAME": "image_processor_function",
    "AZURE_CLIENT_ID": "azure_client_id",
    "AZURE_TENANT_ID": "azure_tenant_id",
    "ACR_NAME": "acr_name",
    "FUNCTION_APP_NAME": "analytics_function_app",
}


def _all_outputs() -> set[str]:
    return {name for root in ROOTS for name in load_root(root)["output"]}


def test_every_deploy_workflow_variable_comes_from_an_output() -> None:
    workflow = REPO / ".github" / "workflows" / "deploy.yml"
    if not workflow.is_file():
        pytest.skip(".github/workflows/deploy.yml is not in this tree yet")
    used = set(re.findall(r"\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}", workflow.read_text()))
    unknown = used - set(WORKFLOW_VARIABLES) - {"AZURE_SUBSCRIPTION_ID"}
    assert not unknown, f"the deploy workflow reads variables no output gives: {sorted(unknown)}"
    missing = {WORKFLOW_VARIABLES[name] for name in used & set(WORKFLOW_VARIABLES)} - _all_outputs()
    assert not missing, f"outputs missing for the deploy workflow: {sorted(missing)}"


def test_every_output_the_k8s_configure_script_reads_exists() -> None:
    script = DEPLOY / "k8s" / "aws" / "configure.sh"
    if not script.is_file():
        pytest.skip("deploy/k8s/aws/configure.sh is not in this tree yet")
    text = script.read_text()
    # `out NAME` without a default and `line KEY NAME` stop the script when the output is missing.
    required = set(re.findall(r"\$\(out ([a-z0-9_]+)\)", text)) | set(
        re.findall(r"\bline [A-Z0-9_]+ ([a-z0-9_]+)", text)
    )
    missing = required - _all_outputs()
    assert not missing, f"deploy/k8s/aws/configure.sh needs outputs Terraform lacks: {sorted(missing)}"
