"""What each image's code path imports, walked statically, and what uv.lock installs for each service's extra."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from mce import registry

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# The container images `make images` builds from deploy/docker/Dockerfile, one extra each (the extra has the name).
IMAGE_SERVICES = ("frontend", "product", "cart", "order", "search", "events-producer", "analytics", "image-processor")
# Functions of mce/cli.py that `mce serve NAME` and `mce migrate NAME` (the image's two commands) run.
CLI_COMMANDS = ("_serve", "_migrate", "main")
# Loaded by name, not imported: SQLAlchemy's postgresql+psycopg dialect; uvicorn's loop="uvloop", http="httptools".
BY_NAME_ONLY = {"psycopg", "uvloop", "httptools"}


def normal(name: str) -> str:
    """A distribution name as uv.lock spells it."""
    return name.lower().replace("_", "-").replace(".", "-")


def lock_closure(wanted: list[dict]) -> set[str]:
    """The distributions uv.lock installs for these requirements (`{"name", "extra"}`), theirs included."""
    packages = {normal(p["name"]): p for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        item = wanted.pop()
        name = normal(item["name"])
        extras = tuple(item.get("extra", []))
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = packages[name]
        wanted.extend(package.get("dependencies", []))
        for extra in extras:
            wanted.extend(package.get("optional-dependencies", {}).get(extra, []))
    return {name for name, _ in seen}


def extra_closure(extra: str) -> set[str]:
    """What `uv sync --no-dev --extra EXTRA` installs: mce's dependencies and that extra's, with theirs."""
    return lock_closure([{"name": "mce", "extra": [extra]}])


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of every import in a tree (those inside functions too), submodules of `from` imports included."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def reachable_imports(roots: list[str], cli_functions: tuple[str, ...] = ()) -> tuple[set[str], set[str]]:
    """The mce modules the roots reach through any import, and the third-party top-level modules they import.

    mce/cli.py counts only its module-level imports and those of `cli_functions` (it imports every service lazily
    for its other commands).
    """
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or (path := _module_file(name)) is None:
            continue
        seen.add(name)
        # A module's packages run first.
        todo.extend(".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1))
        tree = ast.parse(path.read_text())
        if name == "mce.cli":
            tree.body = [
                n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef) or n.name in cli_functions
            ] + [n for n in tree.body if isinstance(n, ast.ClassDef)]
        for imported in _imports(tree, name, path.name == "__init__.py"):
            top = imported.split(".")[0]
            if top == "mce":
                todo.append(imported)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return seen, third_party


def service_roots(name: str) -> list[str]:
    """Where `mce serve NAME` and `mce migrate NAME` start: the CLI, the registry's factory, settings, migrations."""
    spec = registry.BY_NAME[name]
    refs = [spec.factory, spec.settings] + ([spec.migrations] if spec.migrations else [])
    return ["mce.cli", "mce.__main__"] + [ref.partition(":")[0] for ref in refs]


def needed_distributions(third_party: set[str]) -> dict[str, set[str]]:
    """Each imported top-level module's distributions (normalised), from this environment's metadata."""
    providers = packages_distributions()
    return {module: {normal(d) for d in providers.get(module, [module])} for module in third_party}


def service_needs(name: str) -> dict[str, set[str]]:
    """Module -> candidate distributions, for everything `mce serve NAME` / `mce migrate NAME` can import."""
    _, third_party = reachable_imports(service_roots(name), CLI_COMMANDS)
    needs = needed_distributions(third_party)
    for module in BY_NAME_ONLY:
        if module == "psycopg" and not registry.BY_NAME[name].migrations:
            continue
        needs[module] = {module}
    return needs
