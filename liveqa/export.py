"""Exports of an event's questions for its organisers: CSV (UTF-8 with a BOM, for Excel) and XLSX.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) are
neutralised with a leading apostrophe (CWE-1236). XLSX cells holding Arabic text read right to left.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

import xlsxwriter

from liveqa.domain.model import Question
from liveqa.domain.state import EventState

COLUMNS = [
    "id", "status", "text", "original_text", "name", "organisation", "country", "name_shown",
    "organisation_shown", "country_shown", "votes", "queue_position", "pinned", "on_screen", "tags",
    "rejection_reason", "held_for", "source", "moderated_by", "created_utc", "updated_utc", "answered_utc",
]  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _utc(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


def rows(state: EventState) -> list[list[str | int]]:
    """One row per question, in the order they arrived, as the columns above."""
    position = {qid: i + 1 for i, qid in enumerate(state.queue)}

    def row(q: Question) -> list[str | int]:
        return [
            int(q.id), str(q.status), q.text, q.original, q.name, q.organisation, q.country,
            "yes" if q.show_name else "no", "yes" if q.show_organisation else "no",
            "yes" if q.show_country else "no", q.votes, position.get(q.id, ""), "yes" if q.pinned else "no",
            "yes" if state.screen == q.id else "no", ", ".join(q.tags), q.reason, q.held, q.source, q.by,
            _utc(q.created), _utc(q.updated), _utc(q.answered),
        ]  # fmt: skip

    return [row(q) for q in sorted(state.questions.values(), key=lambda q: int(q.id))]


def to_csv(state: EventState) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows(state):
        writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(state: EventState) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("Questions")
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    rtl = book.add_format({"text_wrap": True, "valign": "top", "reading_order": 2, "align": "right"})
    sheet.write_row(0, 0, COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    sheet.set_column(2, 3, 60)
    sheet.set_column(4, 5, 24)
    for r, row in enumerate(rows(state), start=1):
        for c, value in enumerate(row):
            if isinstance(value, int):
                sheet.write_number(r, c, value)
            else:
                text = neutralise(value)
                sheet.write_string(r, c, text, rtl if _ARABIC.search(text) else wrap)
    sheet.autofilter(0, 0, len(state.questions), len(COLUMNS) - 1)
    book.close()
    return buffer.getvalue()
