"""`make up` installs the runtime dependencies only (no dev group), so the code it runs must import nothing else."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Modules that run in an environment of their own, with what that environment installs for them.
OWN_ENVIRONMENT = {"src/mce/stream/flink_job.py": {"pyflink"}}  # deploy/flink/requirements.txt, .venv-flink


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def runtime_distributions() -> set[str]:
    """Every distribution uv.lock installs for mce without its dev group: the dependencies, their extras, and theirs."""
    packages = {_normal(p["name"]): p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    wanted, seen = [{"name": "mce"}], set()
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
        for module in imported_modules(path):
            if module in sys.stdlib_module_names or module in ("mce", "__future__"):
                continue
            if module in OWN_ENVIRONMENT.get(path.relative_to(ROOT).as_posix(), set()):
                continue
            if not {_normal(d) for d in providers.get(module, [])} & runtime:
                outside.append(f"{path.relative_to(ROOT)} imports {module}")
    assert outside == [], "not installed by `make up` (add it to [project] dependencies):\n" + "\n".join(outside)
