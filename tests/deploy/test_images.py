"""The images, the Lambda zip and the Function app: each carries what its code imports, pinned from the lock.

`make images` (deploy/check/images.sh) builds and health-checks the images themselves; it needs root and dockerd, so
these tests check what can be checked without them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mce import registry
from tests.deploy.conftest import DEPLOY, REPO, run
from tests.deploy.images_deps import IMAGE_SERVICES, extra_closure, lock_closure, normal, service_needs

pytestmark = pytest.mark.deploy

DOCKER = DEPLOY / "docker"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
LOCK = {normal(p["name"]): p for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}


def missing_distributions(service: str, installed: set[str]) -> list[str]:
    """The modules a service's code path imports that no distribution in `installed` provides."""
    return sorted(
        f"{module} (from {', '.join(sorted(dists))})"
        for module, dists in service_needs(service).items()
        if not dists & installed
    )


def test_every_image_service_is_a_registered_service_with_an_extra_named_after_it() -> None:
    on_eks = {spec.name for spec in registry.SERVICES} - {"stream"}  # stream is the Flink image
    assert set(IMAGE_SERVICES) == on_eks
    assert set(IMAGE_SERVICES) <= set(EXTRAS)
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for name in IMAGE_SERVICES:
        assert name in dockerfile, f"deploy/docker/Dockerfile does not list {name}"


@pytest.mark.parametrize("service", IMAGE_SERVICES)
def test_each_image_installs_what_its_code_path_imports(service: str) -> None:
    assert missing_distributions(service, extra_closure(service)) == []


def test_the_extras_check_catches_a_distribution_left_out() -> None:
    without_tantivy = extra_closure("search") - {"tantivy"}
    assert any(item.startswith("tantivy") for item in missing_distributions("search", without_tantivy))
    base_only = lock_closure([{"name": "mce"}])
    assert any(item.startswith("psycopg") for item in missing_distributions("order", base_only))
    assert any(item.startswith("PIL") for item in missing_distributions("product", base_only))


def test_the_base_dependencies_are_what_every_image_needs_and_the_extras_add_the_rest() -> None:
    base = {normal(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    for heavy in ("psycopg", "boto3", "pillow", "tantivy", "opensearch-py", "azure-data-tables", "argon2-cffi"):
        assert heavy not in base, f"{heavy} belongs in the extras of the services that use it"
    assert "tantivy" not in extra_closure("order") and "psycopg" not in extra_closure("search")


def _dockerfile_args(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", path.read_text(), re.M))


def test_the_dockerfiles_pin_what_the_local_scripts_and_the_lock_use() -> None:
    service = _dockerfile_args(DOCKER / "Dockerfile")
    assert service["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert service["UV_VERSION"] == makefile_uv
    stream = _dockerfile_args(DOCKER / "Dockerfile.stream")
    assert stream["FLINK_IMAGE"] == "flink:2.2.1-java17"
    assert stream["UV_VERSION"] == makefile_uv
    connector = re.search(r"flink-sql-connector-kafka:(\S+)", (DEPLOY / "local" / "flink-kafka.sh").read_text())
    assert stream["KAFKA_CONNECTOR_VERSION"] == connector.group(1)
    assert re.fullmatch(r"[0-9a-f]{64}", stream["KAFKA_CONNECTOR_SHA256"])
    assert "apache-flink==2.2.1" in (DEPLOY / "flink" / "requirements.txt").read_text()
    kafka = re.search(r"^KAFKA_VERSION=(\S+)$", (DEPLOY / "local" / "kafka.sh").read_text(), re.M).group(1)
    assert f"<kafka.version>{kafka}</kafka.version>" in (DOCKER / "mirrormaker" / "pom.xml").read_text()


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.stream", "Dockerfile.mirrormaker"])
def test_each_image_runs_as_a_non_root_user_with_a_health_check(name: str) -> None:
    text = (DOCKER / name).read_text()
    final = text[text.rindex("\nFROM ") :]
    users = re.findall(r"^USER (\S+)$", final, re.M)
    assert users and users[-1] not in ("root", "0", "0:0"), f"{name}: the final stage must end as a non-root user"
    assert re.search(r"^HEALTHCHECK .*\n?\s*CMD \[", final, re.M), f"{name}: no exec-form HEALTHCHECK"
    assert "org.opencontainers.image.title" in final
    assert ":latest" not in text


def test_the_service_image_installs_from_the_lock_only_its_extra_and_no_dev_tools() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    syncs = re.findall(r"uv sync ([^\n]+)", text)
    assert len(syncs) == 2
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable", '--extra "${SERVICE}"'):
            assert flag in sync
    final = text[text.rindex("\nFROM ") :]
    assert "COPY --from=builder /opt/venv /opt/venv" in final
    assert not re.search(r"^COPY (?!--from=builder)", final, re.M), "the final stage copies only the venv"
    for setting in ("MCE_HOST=0.0.0.0", "MCE_PORT=8000", "MCE_DATA_DIR=/tmp/mce", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in final
    assert "EXPOSE 8000" in final and "USER 10001:10001" in final


def test_the_lambda_zip_carries_its_handler_and_imports_it_in_a_fresh_interpreter(tmp_path: Path) -> None:
    out = tmp_path / "image-processor-lambda.zip"
    run(str(DEPLOY / "aws" / "package-image-processor.sh"), str(out), timeout=600)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "task")
    assert "mce/functions/image_processor/handler.py" in names
    assert not [n for n in names if n.startswith(("mce/services/", "mce/cli.py"))], "the Lambda carries no service"
    assert not [n for n in names if n.startswith("confluent_kafka")]
    # As Lambda loads it: only the task root and the standard library (-I -S: no site-packages, no PYTHON* settings).
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'task')!r}); "
        "import importlib; handler = importlib.import_module('mce.functions.image_processor.handler').handler; "
        "import PIL.Image, PIL.features; assert PIL.__file__.startswith(sys.path[0]), PIL.__file__; "
        "print(callable(handler), PIL.__version__)"
    )
    done = subprocess.run(
        [sys._base_executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=120, env={}
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split()[0] == "True"


def test_the_lambda_overrides_pin_exact_versions_with_hashes() -> None:
    text = (DEPLOY / "aws" / "image-processor-lambda-overrides.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M)
    assert pins == [("pillow", "12.2.0")]
    assert text.count("--hash=sha256:") >= 1
    pillow = next(Requirement(r) for r in EXTRAS["image-processor"] if r.startswith("pillow"))
    assert pillow.specifier.contains("12.2.0")


def test_the_function_app_requirements_are_all_in_the_lock_at_versions_they_allow(tmp_path: Path) -> None:
    app = REPO / "src" / "mce" / "functions" / "analytics"
    problems = []
    for line in (app / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        locked = LOCK.get(normal(requirement.name))
        if locked is None:
            problems.append(f"{requirement.name} is not in uv.lock")
        elif not requirement.specifier.contains(locked["version"]):
            problems.append(f"{requirement} does not allow the locked {locked['version']}")
    assert problems == []
    # Installable as the Functions host installs it (Linux x86_64, Python 3.11, wheels only), resolved from PyPI.
    uv = REPO / ".tools" / "bin" / "uv"
    if uv.is_file():
        platform = ("--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.11", "--only-binary", ":all:")
        run(
            str(uv),
            "pip",
            "compile",
            "--quiet",
            *platform,
            "-o",
            str(tmp_path / "pins.txt"),
            str(app / "requirements.txt"),
        )
    out = tmp_path / "function"
    run(str(DEPLOY / "azure" / "package-analytics-function.sh"), str(out))
    assert {"function_app.py", "host.json", "requirements.txt"} <= {p.name for p in out.iterdir()}
    assert not (out / "mce" / "services" / "order").exists()


def test_the_image_scripts_pass_shellcheck() -> None:
    scripts = [
        DEPLOY / "check" / "images.sh",
        DEPLOY / "aws" / "package-image-processor.sh",
        DEPLOY / "azure" / "package-analytics-function.sh",
        DOCKER / "mirrormaker" / "entrypoint.sh",
    ]
    run("shellcheck", *map(str, scripts))


# --- compose.yaml -------------------------------------------------------------------------------------------------

COMPOSE = REPO / "compose.yaml"
COMPOSE_ENV = DOCKER / "compose.env.example"
# Read by boto3 itself, in the services whose extra installs it.
AWS_VARIABLES = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
BACKEND_IMAGES = {
    "postgres": "postgres:16",
    "kafka": "apache/kafka:4.1.1",
    "opensearch": "opensearchproject/opensearch:3",
}


def setting_variables(settings: type) -> set[str]:
    """Every environment variable a pydantic-settings class reads (its MCE_ names and its aliases)."""
    from pydantic import AliasChoices

    from mce.kit.settings import ENV_PREFIX

    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{ENV_PREFIX}{field_name}".upper())
    return names


def variables_read(service: str) -> set[str]:
    """What a compose service's process reads from its environment."""
    if service == "stream":
        return set(re.findall(r'"((?:MCE_|EVENTHUBS_)[A-Z0-9_]+)"', (REPO / "src/mce/stream/flink_job.py").read_text()))
    if service == "mirrormaker":
        return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (DOCKER / "mirrormaker" / "entrypoint.sh").read_text()))
    from mce.cli import ServeSettings

    read = setting_variables(registry.BY_NAME[service].settings_class()) | setting_variables(ServeSettings)
    if "boto3" in extra_closure(service):
        read |= AWS_VARIABLES
    return read


def load_compose(text: str, env: dict[str, str]) -> dict:
    """compose.yaml as Compose sees it: ${VAR}, ${VAR:-default}, ${VAR:?error} interpolated, $$ a literal $."""
    import yaml

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in env:
            return env[name]
        if op == ":-":
            return rest
        raise AssertionError(f"compose.yaml needs {name}, which {COMPOSE_ENV.name} does not set")

    return yaml.safe_load(re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:[-?])?([^}]*)\}", value, text))


def compose_env() -> dict[str, str]:
    lines = [line for line in COMPOSE_ENV.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def compose_problems(doc: dict) -> list[str]:
    """What is wrong with a compose file: images, builds, settings nobody reads, dependencies, secrets."""
    services = doc["services"]
    problems = []
    for name in (*IMAGE_SERVICES, "stream", "mirrormaker", *BACKEND_IMAGES, "moto", "eventhubs"):
        if name not in services:
            problems.append(f"{name}: missing")
    for name, image in BACKEND_IMAGES.items():
        if services.get(name, {}).get("image") != image:
            problems.append(f"{name}: image should be {image}")
    for name, spec in services.items():
        build = spec.get("build")
        if build:
            dockerfile = REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: no {dockerfile.relative_to(REPO)}")
            if name in IMAGE_SERVICES and (build.get("args") or {}).get("SERVICE") != name:
                problems.append(f"{name}: build arg SERVICE should be {name}")
            if spec.get("image") != f"{name}:local":
                problems.append(f"{name}: image should be named {name}:local, as make images tags it")
            unread = sorted(set(spec.get("environment") or {}) - variables_read(name))
            if unread:
                problems.append(f"{name}: sets {unread}, which it never reads")
        elif not spec.get("image"):
            problems.append(f"{name}: neither image nor build")
        for target, condition in (spec.get("depends_on") or {}).items():
            if target not in services:
                problems.append(f"{name}: depends on {target}, which is not a service")
            elif condition.get("condition") == "service_healthy" and not (
                services[target].get("healthcheck") or services[target].get("build")  # images have a HEALTHCHECK
            ):
                problems.append(f"{name}: waits for {target} to be healthy, which has no health check")
        for key, value in (spec.get("environment") or {}).items():
            secret = re.search(r"PASSWORD|SECRET|CONNECTION_STRING|TOKEN|_KEY$", key)
            if secret and value != "local" and "change-me" not in str(value):
                problems.append(f"{name}: {key} is not taken from .env")
    return problems


def test_compose_runs_every_service_on_the_real_backends_and_sets_only_what_the_code_reads() -> None:
    doc = load_compose(COMPOSE.read_text(), compose_env())
    assert compose_problems(doc) == []
    assert doc["services"]["cart"]["environment"]["MCE_CART_STORE"] == "dynamodb"
    assert doc["services"]["search"]["environment"]["MCE_SEARCH_INDEX"] == "opensearch"
    assert doc["services"]["analytics"]["environment"]["MCE_BUS"] == "eventhubs"


def test_the_compose_check_rejects_a_setting_nobody_reads_a_missing_dependency_and_a_committed_secret() -> None:
    doc = load_compose(COMPOSE.read_text(), compose_env())
    doc["services"]["order"]["environment"]["MCE_ORDER_TYPO"] = "1"
    doc["services"]["cart"]["depends_on"]["dynamo"] = {"condition": "service_healthy"}
    doc["services"]["frontend"]["environment"]["RDS_PASSWORD"] = "hunter2"
    del doc["services"]["search"]["build"]["args"]
    problems = "\n".join(compose_problems(doc))
    for expected in ("MCE_ORDER_TYPO", "dynamo, which is not a service", "RDS_PASSWORD", "search: build arg"):
        assert expected in problems
    with pytest.raises(AssertionError, match="compose.yaml needs MCE_COMPOSE_"):
        load_compose(COMPOSE.read_text(), {})


def _compose_v1_config(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """docker-compose 1.29 (Debian's) validating a compose file against the Compose Specification's schema.

    It predates the top-level `name`, which is dropped for it; everything else is validated as written.
    """
    import shutil

    path = tmp_path / "compose.yaml"
    path.write_text(re.sub(r"^name: .*\n", "", text, flags=re.M))
    command = [shutil.which("docker-compose") or "docker-compose", "--project-directory", str(REPO)]
    return subprocess.run(
        [*command, "--env-file", str(COMPOSE_ENV), "-f", str(path), "config", "-q"], capture_output=True, text=True
    )


def test_docker_compose_accepts_the_file() -> None:
    import shutil

    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        run(docker, "compose", "--env-file", str(COMPOSE_ENV), "-f", str(COMPOSE), "config", "-q")
    elif not shutil.which("docker-compose"):
        pytest.skip("neither the docker compose plugin nor docker-compose here; the tests above check the file")


def test_docker_compose_1_validates_the_schema_and_rejects_an_unknown_key(tmp_path: Path) -> None:
    import shutil

    if not shutil.which("docker-compose"):
        pytest.skip("no docker-compose (apt-get install docker-compose); the tests above check the file")
    text = COMPOSE.read_text()
    done = _compose_v1_config(text, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = text.replace("    image: postgres:16\n", "    image: postgres:16\n    restart_policy: sometimes\n")
    done = _compose_v1_config(broken, tmp_path)
    assert done.returncode != 0 and "restart_policy" in done.stdout + done.stderr


# --- scans ------------------------------------------------------------------------------------------------------

BAD_DOCKERFILE = """FROM python:latest
ADD https://example.com/tool.tar.gz /opt/
RUN pip install requests
CMD ["python"]
"""


def _checkov() -> str:
    path = REPO / ".tools" / "checkov" / "bin" / "checkov"
    if not path.is_file():
        from tests.conftest import skip_or_fail

        skip_or_fail("checkov is not installed: run deploy/check/checkov.sh")
    return str(path)


def test_checkov_passes_the_dockerfiles_and_every_skip_gives_a_reason() -> None:
    run(_checkov(), "--skip-download", "--framework", "dockerfile", "--directory", str(DOCKER), "--compact", "--quiet")
    for path in DOCKER.glob("Dockerfile*"):
        for skip in re.findall(r"checkov:skip=([^\n]*)", path.read_text()):
            check, _, reason = skip.partition(":")
            assert re.fullmatch(r"CKV2?_DOCKER_\d+", check) and len(reason.strip()) > 20, f"{path.name}: {skip}"


def test_checkov_rejects_a_root_latest_dockerfile_without_a_health_check(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BAD_DOCKERFILE)
    done = subprocess.run(
        [_checkov(), "--skip-download", "--framework", "dockerfile", "--directory", str(tmp_path), "--compact"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    for check in ("CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"):  # no HEALTHCHECK, no USER, latest tag
        assert check in done.stdout


def test_trivy_config_passes_the_dockerfiles_and_rejects_a_bad_one(tmp_path: Path) -> None:
    from tests.deploy.conftest import tool

    trivy = tool("trivy")
    scan = ("config", "--quiet", "--skip-check-update", "--exit-code", "1", "--cache-dir", str(tmp_path / "cache"))
    ignore = DEPLOY / "check" / "dockerfiles.trivyignore"
    run(trivy, *scan, "--ignorefile", str(ignore), str(DOCKER))
    for line in ignore.read_text().splitlines():
        assert not line.strip() or line.startswith("#") or "#" in line, f"trivyignore entry without a reason: {line}"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "Dockerfile").write_text(BAD_DOCKERFILE)
    done = subprocess.run([trivy, *scan, str(tmp_path / "bad")], capture_output=True, text=True)
    assert done.returncode != 0, done.stdout + done.stderr
    assert re.search(r"DS-?0*2\b", done.stdout + done.stderr), "trivy did not flag the root user"


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Run the MirrorMaker image's entrypoint with a `java` that only records its arguments; those arguments."""
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    (stub / "java").write_text('#!/bin/sh\nprintf "%s\\n" "$@" >"$JAVA_ARGS"\n')
    (stub / "java").chmod(0o755)
    record = tmp_path / "java-args"
    environ = {
        "PATH": f"{stub}:/usr/bin:/bin",
        "JAVA_ARGS": str(record),
        "MCE_MIRROR_HOME": str(tmp_path / "home"),
        "MCE_MIRROR_REPLICATION_PROPERTIES": str(REPO / "deploy" / "mirrormaker" / "replication.properties"),
        **env,
    }
    subprocess.run(["sh", str(DOCKER / "mirrormaker" / "entrypoint.sh"), *args], env=environ, check=True, timeout=30)
    return record.read_text().splitlines()


def test_mirrormaker_runs_the_properties_file_it_is_given_as_kubernetes_mounts_it(tmp_path: Path) -> None:
    given = tmp_path / "mm2.properties"
    given.write_text("clusters=msk, eventhubs\n")
    args = _entrypoint(tmp_path, str(given))
    assert args[-2:] == ["org.apache.kafka.connect.mirror.MirrorMaker", str(given)]
    assert not (tmp_path / "home").exists()


def test_mirrormaker_without_a_file_writes_one_from_the_environment_with_the_shared_replication_settings(
    tmp_path: Path,
) -> None:
    args = _entrypoint(tmp_path, KAFKA_BOOTSTRAP="kafka:9092", EVENTHUBS_BOOTSTRAP="eventhubs:9093")
    written = Path(args[-1]).read_text()
    shared = (REPO / "deploy" / "mirrormaker" / "replication.properties").read_text()
    for line in shared.splitlines():
        if line and not line.startswith("#"):
            assert line in written.splitlines(), line
    assert (
        "msk.bootstrap.servers=kafka:9092" in written
        and "replication.policy.topic.renames=user-events:events" in written
    )
