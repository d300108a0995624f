"""The desk tests' raw-identifier scan (tests/desk/support.py) finds what it must and passes
what the desk legitimately shows, so a clean scan means something."""

from __future__ import annotations

from tests.desk.support import PLANTED, raw_identifiers


def test_scan_finds_identifiers() -> None:
    assert raw_identifiers("contact jane.roe@example.com today") == ["jane.roe@example.com"]
    assert raw_identifiers("<td>call +44 20 7946 0000</td>") == ["+44 20 7946 0000"]
    assert raw_identifiers('{"note": "5551234567"}') == ["5551234567"]
    for planted in PLANTED:
        assert planted in raw_identifiers(f"<p>{planted}</p>")


def test_scan_passes_what_the_desk_shows() -> None:
    page = (
        '<a href="/cases/1796611664630-0">case 1796611664630-12</a> 2026-11-27T17:54:39Z '
        '{"detected_at": 1796611662106, "score": 1.05} SAR filed, ref 2026-118 '
        '<svg viewBox="0 0 820 150"><title>timeline</title><text x="1">11-23</text>'
        '<text x="2">11-24</text></svg> acc-611581-0001115 a1b2c3d4e5f60718293a4b5c6d7e8f90'
    )
    assert raw_identifiers(page) == []
    token = "7-1234567"  # random session tokens can hold digit runs: passed as secrets
    assert (
        raw_identifiers(f"csrf {token}") != [] and raw_identifiers(f"csrf {token}", (token,)) == []
    )
