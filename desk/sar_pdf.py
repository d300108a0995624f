"""The SAR narrative draft as a PDF, for analysts whose filing workflow starts from a document.

Built with fpdf2: pure Python (no system library, no browser, no LaTeX), maintained, and small.
Text is set in DejaVu Sans, which matplotlib (already a dependency) ships, so every character
the draft may hold (the em dash of the Markdown, an accented institution name) prints, which
the PDF core fonts (Latin-1 only) would not. Same content, same order as the Markdown
(processors/sar.py): the tool never files anything.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos


@cache
def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _num(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"


def render(data: dict[str, Any]) -> bytes:
    """PDF bytes of a SarDraft's data."""
    pdf = FPDF(format="Letter")
    pdf.set_title(f"SAR narrative draft: alert {data['alert_id']}")
    pdf.set_creator("chainbreaker desk")
    pdf.add_font("DejaVu", "", str(_font_dir() / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_font_dir() / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(_font_dir() / "DejaVuSans-Oblique.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()

    def para(text: str, size: float = 10, style: str = "") -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, size * 0.55, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    def labelled(label: str, text: str) -> None:
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(
            0, 5.5, f"**{label}** {text}", markdown=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(1.5)

    para(f"SAR narrative draft: alert {data['alert_id']}", 15, "B")
    para("Draft for the analyst to review and complete. Not filed.", 9, "I")
    labelled("Key term for the narrative:", data["sar_key_term"])
    labelled("SAR field to tick:", data["sar_field"])
    labelled(
        "Typology:",
        f"{data['typology']}, severity {data['severity']}, score {_num(data['score'])}, "
        f"rule set {data['rule_set_version']}",
    )
    para("Narrative", 12, "B")
    para(data["narrative_opening"])
    labelled("Who.", data["who"])
    labelled("What.", data["what"])
    for item in data["what_items"]:
        pdf.set_x(pdf.l_margin + 4)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 5.5, f"• {item}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    labelled("When.", data["when"]["text"])
    labelled("Where.", data["where"]["text"])
    labelled("Why.", data["why"])
    labelled("How.", data["how"])

    para("Evidence", 12, "B")
    pdf.set_font("DejaVu", "", 8)
    with pdf.table(
        col_widths=(36, 34, 20, 20, 16, 70),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        line_height=4.2,
    ) as table:
        table.row(["Indicator", "Source", "Measured", "Threshold", "Weight", "Event ids"])
        for row in data["evidence"]:
            table.row(
                [
                    row["indicator"],
                    row["source"],
                    _num(row["measured"]),
                    _num(row["threshold"]),
                    _num(row["weight"]),
                    ", ".join(row["event_ids"]),
                ]
            )
    return bytes(pdf.output())
