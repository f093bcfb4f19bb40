"""Secrets: given in the environment, or on a laptop generated once and kept in the data directory; never weak.

Fail closed: an empty or short secret, from either place, stops the process with a message saying what to do.
In production nothing is generated: a missing secret is an error naming the variable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from mce.kit.settings import ENV_PREFIX, SettingsError

MIN_SECRET_CHARS = 16


def check_secret(value: str, variable: str) -> str:
    """The secret, or SettingsError when it is too short to resist guessing."""
    if len(value.strip()) < MIN_SECRET_CHARS:
        raise SettingsError(f"{variable}: must be at least {MIN_SECRET_CHARS} characters")
    return value.strip()


def resolve_secret(value: str | None, *, name: str, data_dir: Path, production: bool) -> str:
    """The configured secret, else (not in production) the one kept at <data_dir>/secrets/<name>, made on first use."""
    variable = f"{ENV_PREFIX}{name.upper().replace('-', '_')}"
    if value is not None:
        return check_secret(value, variable)
    if production:
        raise SettingsError(f"{variable}: must be set in production (MCE_ENV=production generates no secrets)")
    path = Path(data_dir) / "secrets" / name
    if not path.exists():
        _create_once(path, secrets.token_urlsafe(24))
    stored = path.read_text().strip()
    if len(stored) < MIN_SECRET_CHARS:
        raise SettingsError(
            f"{variable}: {path} holds a secret shorter than {MIN_SECRET_CHARS} characters; "
            f"delete the file to have a new one generated, or set {variable}"
        )
    return stored


def _create_once(path: Path, secret: str) -> None:
    """Write the secret whole under a temporary name, then link it into place unless another process won the race."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when the name exists, so readers only ever see a complete file, and the first writer wins.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
