"""The SAR draft as PDF (desk/sar_pdf.py)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from desk import sar_pdf
from processors import sar
from tests.processors.test_sar import make_alert


def test_pdf_is_a_document_with_the_draft() -> None:
    alert = make_alert()
    alert["institution_id"] = "banque-québec-01"  # not Latin-1 safe in the core fonts
    body = sar_pdf.render(sar.draft(alert).data)
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", body)) >= 1
    assert b"DejaVu" in body  # the embedded TrueType font
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: text not checked")
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=body, capture_output=True, check=True
    ).stdout.decode()
    for expected in (
        "SAR narrative draft",
        alert["alert_id"],
        "HUMAN TRAFFICKING FIN-2020-A008",
        "38(h)",
        "HOTEL_MULTI_CITY",
        "banque-québec-01",
        "ev-1, ev-2, ev-3",
    ):
        assert expected in text, expected
