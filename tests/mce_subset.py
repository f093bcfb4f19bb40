"""`python -m tests.mce_subset ARGS`: the `mce` command with only the services named in MCE_TEST_SERVICES.

Tests of `mce up` use it to run the platform without services that are elsewhere in the middle of a rewrite; the
children it starts run the real `mce serve NAME`.
"""

from __future__ import annotations

import os
import sys

from mce import registry


def narrow_registry(names: list[str]) -> None:
    """Make the registry list only the named services, in their usual order."""
    registry.SERVICES = tuple(spec for spec in registry.SERVICES if spec.name in names)
    registry.BY_NAME = {spec.name: spec for spec in registry.SERVICES}


if __name__ == "__main__":
    narrow_registry(os.environ.get("MCE_TEST_SERVICES", "product").split(","))
    from mce.cli import main

    sys.exit(main())
