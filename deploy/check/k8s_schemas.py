"""Convert the Kubernetes JSON schemas that the kubernetes-validate package ships to kubeconform's standalone layout.

The package keeps one file per kind whose $refs point at "/api/_definitions.json#/$defs/..."; kubeconform loads
`<dir>/<kind>-<group>-<version>.json` and resolves $refs against the file, so each kind file is written with its refs
made relative to a `_definitions.json` beside it (whose own refs become local). Only top-level kinds (those that carry
an apiVersion and kind enum) are written. Usage: python k8s_schemas.py OUT_DIR [KUBERNETES_VERSION] (default 1.34.0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate

REF_PREFIX = "/api/_definitions.json#"


def source_dir(version: str) -> Path:
    """The package's strict schema folder for a Kubernetes version."""
    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not folder.is_dir():
        raise SystemExit(f"kubernetes-validate has no strict schemas for {version} ({folder})")
    return folder


def relink(text: str, prefix: str) -> str:
    """The schema text with its absolute $refs to the definitions file rewritten to start with prefix."""
    return text.replace(f'"$ref": "{REF_PREFIX}', f'"$ref": "{prefix}')


def convert(out: Path, version: str = "1.34.0") -> int:
    """Write the converted schemas into out; the number of kinds written."""
    src = source_dir(version)
    out.mkdir(parents=True, exist_ok=True)
    definitions = json.loads(relink((src / "_definitions.json").read_text(), "#"))
    definitions.pop("$id", None)
    (out / "_definitions.json").write_text(json.dumps(definitions))
    count = 0
    for path in sorted(src.glob("*.json")):
        if path.name.startswith("_") or path.name == "all.json":
            continue
        schema = json.loads(path.read_text())
        properties = schema.get("properties", {})
        if not ("enum" in properties.get("kind", {}) and "enum" in properties.get("apiVersion", {})):
            continue
        schema.pop("$id", None)
        (out / path.name).write_text(relink(json.dumps(schema), "_definitions.json#"))
        count += 1
    return count


if __name__ == "__main__":
    target = Path(sys.argv[1])
    written = convert(target, sys.argv[2] if len(sys.argv) > 2 else "1.34.0")
    print(f"{written} kinds in {target}", file=sys.stderr)
