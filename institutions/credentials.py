"""An institution's credentials: its Redis ACL user's name and URL, and the file that holds them.

`chainbreaker cases grant` writes one env file per institution (the operator hands it over);
the case client, the CLI and any other front end (a web desk) read it back. Kept apart from
acl.py, which creates the users with the admin connection, so a client of the case queue
never imports the operator's code.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from config.clients import institution_role, read_env_file, role_file, user_url
from config.settings import Settings

# The variables of a credentials file (also what `set -a; . file` exports in a shell).
ENV_URL = "CB_CASES_REDIS_URL"
ENV_INSTITUTION = "CB_CASES_INSTITUTION"
ENV_APP = "CB_APP_ID"


def username(settings: Settings, institution: str) -> str:
    """`<app_id>.<institution>`: app ids hold no dots, so the institution can be read back."""
    return f"{settings.app_id}.{institution}"


def institution_from_username(settings: Settings, user: str | None) -> str | None:
    prefix = f"{settings.app_id}."
    if user and user.startswith(prefix) and len(user) > len(prefix):
        return user[len(prefix) :]
    return None


def credentials_path(settings: Settings, institution: str) -> Path:
    """Also the institution's Kafka credentials file (config/clients.py)."""
    return role_file(settings, institution_role(institution))


def institution_url(admin_url: str, user: str, password: str) -> str:
    """The admin URL's host, port and db with the institution's user and password."""
    return user_url(admin_url, user, password)


def url_credentials(url: str) -> tuple[str | None, str | None]:
    parts = urlsplit(url)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return user, password


def read_credentials(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (the format `grant` writes; also `set -a; . file` in a shell)."""
    return read_env_file(path)
