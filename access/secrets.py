"""Generated passwords and the 0600 files that hold them."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def new_password() -> str:
    """32 random bytes, URL-safe (no quoting needed in a URL, an env file or a JAAS line)."""
    return secrets.token_urlsafe(32)


def write_secret(path: Path, text: str) -> None:
    """0600 from the first byte (never world-readable, even briefly), replaced atomically; the
    directory is made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def env_file(comment: str, values: dict[str, str]) -> str:
    """An env file: a comment, then KEY=VALUE lines (`set -a; . file` and env_file read it)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"
