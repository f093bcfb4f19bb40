"""`make up` installs the runtime dependencies only (no dev group), so the code it runs must import nothing else."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Modules that run in an environment of their own, with what that environment installs for them.
OWN_ENVIRONMENT = {"src/mce/stream/flink_job.py": {"pyflink"}}  # deploy/flink/requirements.txt, .venv-flink
# Imported by libraries only when installed (azure-storage-blob tries aiohttp for its async transport, urllib3 tries
# brotli): a function app is loaded with these made unimportable, which also proves it needs none of them.
OPTIONAL_FOR_FUNCTIONS = ("aiohttp", "brotli")


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def runtime_distributions() -> set[str]:
    """Every distribution `make up` installs from uv.lock (no dev group, every extra): the dependencies and theirs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    return installed_with([{"name": "mce", "extra": sorted(extras)}])


def installed_with(wanted: list[dict]) -> set[str]:
    """The distributions uv.lock installs for these requirements (`{"name", "extra"}`), theirs included."""
    packages = {_normal(p["name"]): p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    seen = set()
    while wanted:
        item = wanted.pop()
        name = _normal(item["name"])
        extras = item.get("extra", [])
        if (name, tuple(extras)) in seen:
            continue
        seen.add((name, tuple(extras)))
        package = packages[name]
        wanted.extend(package.get("dependencies", []))
        for extra in extras:
            wanted.extend(package.get("optional-dependencies", {}).get(extra, []))
    return {name for name, _ in seen}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in a module, those inside functions too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_platform_imports_only_what_its_runtime_dependencies_install() -> None:
    runtime = runtime_distributions()
    providers = packages_distributions()
    outside = []
    for path in sorted((ROOT / "src" / "mce").rglob("*.py")):
        if _function_app(path) is not None:
            continue  # deployed on its own with its requirements.txt; checked below
        for module in imported_modules(path):
            if module in sys.stdlib_module_names or module in ("mce", "__future__"):
                continue
            if module in OWN_ENVIRONMENT.get(path.relative_to(ROOT).as_posix(), set()):
                continue
            if not {_normal(d) for d in providers.get(module, [])} & runtime:
                outside.append(f"{path.relative_to(ROOT)} imports {module}")
    assert outside == [], "not installed by `make up` (add it to [project] dependencies):\n" + "\n".join(outside)


def _function_app(path: Path) -> Path | None:
    """The requirements.txt of the function app a module belongs to (one deployed with its own), if any."""
    for folder in path.parents:
        if (folder / "requirements.txt").exists():
            return folder / "requirements.txt"
        if folder == ROOT / "src":
            return None
    return None


def _requirements(path: Path) -> list[dict]:
    """A requirements.txt's names and extras."""
    wanted = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~; ]", line)[0]
            base, _, extras = name.partition("[")
            wanted.append({"name": base, "extra": [e for e in extras.rstrip("]").split(",") if e]})
    return wanted


def test_each_function_app_imports_only_what_its_requirements_install() -> None:
    apps = sorted({app for path in (ROOT / "src" / "mce").rglob("*.py") if (app := _function_app(path))})
    assert apps, "no function app found"
    providers = packages_distributions()
    for requirements in apps:
        allowed = installed_with(_requirements(requirements))
        module = ".".join(requirements.parent.relative_to(ROOT / "src").parts + ("function_app",))
        # What loading the app really imports, the shared mce code's own imports included.
        probe = (
            f"import sys; sys.modules.update(dict.fromkeys({OPTIONAL_FOR_FUNCTIONS!r})); import {module}; "
            "print(' '.join(sorted({m.split('.')[0] for m, loaded in sys.modules.items() if loaded is not None})))"
        )
        loaded = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        outside = [
            name
            for name in loaded
            if name not in sys.stdlib_module_names
            and name not in ("mce", "__future__", "__main__", "_distutils_hack")
            and not name.startswith("_")
            and providers.get(name)
            and not {_normal(d) for d in providers[name]} & allowed
        ]
        assert outside == [], f"{module} loads what {requirements.relative_to(ROOT)} does not install: {outside}"
