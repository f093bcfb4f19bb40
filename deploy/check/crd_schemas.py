"""Write kubeconform schemas (deploy/check/schemas/<kind>-<group>-<version>.json) from the CRDs in deploy/check/crds.

One source for both checks: the API server gets the CRDs as they are, kubeconform the same openAPIV3Schema made
strict the way kubeconform's own openapi2jsonschema -strict does it (every object with properties refuses others;
x-kubernetes-int-or-string becomes string-or-integer; preserve-unknown-fields objects stay open).
Usage: python crd_schemas.py [--check]  (--check: exit 1 when the committed schemas differ from the CRDs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CRDS = HERE / "crds"
SCHEMAS = HERE / "schemas"


def strict(node: Any) -> Any:
    """The schema node with additionalProperties false on every object that lists its properties."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["string", "integer"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def schemas() -> dict[str, str]:
    """File name -> JSON text of every CRD version's kubeconform schema."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            props = schema.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
            props["kind"] = {"type": "string", "enum": [kind]}
            name = f"{kind.lower()}-{group.split('.')[0]}-{version['name']}.json"
            out[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str]) -> int:
    """Write the schemas, or with --check report those that are stale."""
    wanted = schemas()
    if "--check" in argv:
        stale = [
            name
            for name, text in wanted.items()
            if not (SCHEMAS / name).is_file() or (SCHEMAS / name).read_text() != text
        ]
        extra = [p.name for p in SCHEMAS.glob("*.json") if p.name not in wanted]
        for name in stale + extra:
            print(f"deploy/check/schemas/{name} does not match deploy/check/crds (run deploy/check/crd_schemas.py)")
        return 1 if stale or extra else 0
    SCHEMAS.mkdir(exist_ok=True)
    for name, text in wanted.items():
        (SCHEMAS / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
