"""The docs hold: every CB_* setting the code reads is documented in docs/configuration.md
(and nothing there is stale), and every relative link in README.md and docs/*.md resolves to
a file, and to a heading when it names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from config import settings
from tests.project.test_imports import project_modules
from tests.support import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETTING = re.compile(r"CB_[A-Z0-9]+(?:_[A-Z0-9]+)*")
# Files outside Python that set or read settings.
OTHER_CODE = ["Makefile", "Dockerfile", "docker-compose.yml", ".ci/run", "scripts/setup-venv.sh"]


def settings_in_code() -> dict[str, set[str]]:
    """Every CB_* name the code reads or sets -> the files it appears in. In Python, string
    literals that are exactly a name (how config/settings.py, processors/__init__.py and the
    credentials file name them); elsewhere, any mention."""
    found: dict[str, set[str]] = {}
    for path in project_modules(ROOT).values():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and SETTING.fullmatch(value):
                found.setdefault(value, set()).add(str(path.relative_to(ROOT)))
    for name in OTHER_CODE:
        for match in SETTING.findall((ROOT / name).read_text()):
            found.setdefault(match, set()).add(name)
    return found


def documented_settings() -> set[str]:
    """The names in the first column of configuration.md's tables."""
    rows = re.findall(r"^\|\s*(CB_[A-Z0-9_]+)\s*\|", CONFIGURATION.read_text(), re.MULTILINE)
    return set(rows)


def test_every_setting_the_code_reads_is_documented() -> None:
    code = settings_in_code()
    assert set(settings.documented_variables()) <= set(code)  # the scan sees settings.py
    assert {"CB_NATIVE", "CB_CASES_REDIS_URL", "CB_PROMETHEUS"} <= set(code)
    missing = {name: sorted(files) for name, files in code.items()}
    missing = {k: v for k, v in missing.items() if k not in documented_settings()}
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_every_documented_setting_is_read_somewhere() -> None:
    stale = documented_settings() - set(settings_in_code())
    assert not stale, f"docs/configuration.md documents settings nothing reads: {sorted(stale)}"


# --------------------------------------------------------------------------- links

MD = MarkdownIt("commonmark").enable("table")


def _inline_text(token) -> str:
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, a
    numbered suffix for repeats."""
    tokens = MD.parse(page.read_text())
    seen: dict[str, int] = {}
    out = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        slug = re.sub(r"[^\w\- ]", "", _inline_text(tokens[i + 1]).strip().lower())
        slug = slug.replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(page: Path) -> list[str]:
    """Link and image targets, outside code blocks and code spans."""
    found = []
    for token in MD.parse(page.read_text()):
        for child in token.children or []:
            if child.type == "link_open":
                found.append(str(child.attrs.get("href", "")))
            elif child.type == "image":
                found.append(str(child.attrs.get("src", "")))
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            problems.append(f"{target}: {dest} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading #{anchor} in {dest.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert not broken_links(page)


def test_the_link_check_catches_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Some heading: here (x)\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md#some-heading-here-x) [gone](missing.md) [bad](a.md#nope) [web](https://x.y)\n"
        "`[code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n"
    )
    problems = broken_links(page)
    assert len(problems) == 2, problems
    assert any("missing.md" in p for p in problems) and any("#nope" in p for p in problems)


def test_the_readme_maps_every_docs_page() -> None:
    linked = {Path(t.partition("#")[0]).name for t in links(ROOT / "README.md")}
    assert {p.name for p in PAGES[1:]} <= linked


def test_the_readme_stays_short() -> None:
    """The README is for a newcomer; reference material belongs in docs/."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 220
