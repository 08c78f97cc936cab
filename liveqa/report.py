"""The public transparency report of an event, published once it has ended: what was received, approved,
answered and rejected (and why), by country, and the answered questions with the organisations their askers
chose to show. HTML with inline SVG charts (each with the same figures as a table beside it), CSV and JSON.
After the retention period only the figures remain."""

from __future__ import annotations

import collections
import csv
import html
import io
import json
from typing import Any

from liveqa.domain import regions
from liveqa.domain.model import EventInfo, Status
from liveqa.domain.state import EventState


def figures(state: EventState) -> dict[str, Any]:
    """Aggregate, anonymous figures: counts only."""
    questions = [q for q in state.questions.values() if q.status is not Status.WITHDRAWN]
    return {
        "questions": len(questions),
        "by_status": dict(collections.Counter(str(q.status) for q in questions)),
        "rejected_by_reason": dict(collections.Counter(q.reason for q in questions if q.status is Status.REJECTED)),
        "by_country": dict(collections.Counter(q.country for q in questions if q.country)),
        "by_region": dict(collections.Counter(regions.name(regions.region(q.country)) for q in questions if q.country)),
        "answered_by_region": dict(
            collections.Counter(
                regions.name(regions.region(q.country)) for q in questions if q.country and q.status is Status.ANSWERED
            )
        ),
        "by_un_group": dict(
            collections.Counter(regions.GROUP_NAMES[group] for q in questions if (group := regions.un_group(q.country)))
        ),
        "listed_organisations": sum(1 for q in questions if q.listed),
        "by_channel": dict(collections.Counter(q.source for q in questions)),
        "anonymous": sum(1 for q in questions if not q.name),
        "held_for_review": sum(1 for q in questions if q.held),
        "participants": len({q.pid for q in questions}),
        "votes": sum(q.votes for q in questions),
    }


def answered(state: EventState) -> list[dict[str, str]]:
    """The answered questions, in the order they were answered, with only what their askers chose to show."""
    done = sorted((q for q in state.questions.values() if q.status is Status.ANSWERED), key=lambda q: q.answered)
    return [
        {
            "text": q.text,
            "organisation": q.organisation if q.show_organisation else "",
            "country": q.country if q.show_country else "",
            "name": q.name if q.show_name else "",
        }
        for q in done
    ]


def to_json(info: EventInfo, numbers: dict[str, Any], questions: list[dict[str, str]]) -> bytes:
    report = {"event": {"slug": info.slug, "title": info.title}, "figures": numbers, "answered": questions}
    return json.dumps(report, ensure_ascii=False, indent=2).encode()


def to_csv(numbers: dict[str, Any]) -> bytes:
    """Every figure as a row: table, key, count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["figure", "key", "count"])
    for name, value in numbers.items():
        if isinstance(value, dict):
            for key, count in sorted(value.items(), key=lambda kv: (-kv[1], kv[0])):
                writer.writerow([name, key, count])
        else:
            writer.writerow([name, "", value])
    return ("\ufeff" + buffer.getvalue()).encode()


_LABELS = {
    "pending": "Not reached",
    "approved": "Approved, not reached",
    "answered": "Answered",
    "rejected": "Rejected",
    "archived": "Set aside",
}


def _chart(title: str, counts: dict[str, int], labels: dict[str, str] | None = None) -> str:
    """A horizontal bar chart in SVG (presentation attributes only: the page's CSP allows no inline style),
    with the same figures in a table for screen readers and print."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    if not items:
        return ""
    names = [html.escape((labels or {}).get(k, k) or "—") for k, _ in items]
    top = max(v for _, v in items) or 1
    row, width, label_w = 28, 640, 220
    bars = []
    for i, ((_, value), name) in enumerate(zip(items, names, strict=True)):
        y = i * row
        length = max(2, int((width - label_w - 60) * value / top))
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="#1a1a1a">{name}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{length}" height="18" fill="#1f5fa8"></rect>'
            f'<text x="{label_w + length + 6}" y="{y + 19}" font-size="14" fill="#1a1a1a">{value}</text>'
        )
    height = row * len(items)
    svg = (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-hidden="true" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )
    table_rows = "".join(f"<tr><th scope=row>{n}</th><td>{v}</td></tr>" for n, (_, v) in zip(names, items, strict=True))
    return (
        f"<section><h2>{html.escape(title)}</h2><div class=chart>{svg}"
        f"<table><caption>{html.escape(title)}</caption><thead><tr><th scope=col>Category</th>"
        f"<th scope=col>Questions</th></tr></thead><tbody>{table_rows}</tbody></table></div></section>"
    )


def to_html(info: EventInfo, numbers: dict[str, Any], questions: list[dict[str, str]], *, erased: bool) -> str:
    e = html.escape

    def many(count: int, one: str, more: str) -> str:
        return f"{count} {one if count == 1 else more}"

    summary = (
        f"<p class=lead>{many(numbers['questions'], 'question', 'questions')} from "
        f"{many(numbers['participants'], 'participant', 'participants')}; "
        f"{numbers['by_status'].get('answered', 0)} answered in the room; "
        f"{many(numbers['votes'], 'vote', 'votes')}.</p>"
    )
    listing = ""
    if questions:
        entries = "".join(
            f'<li><p dir="auto">{e(q["text"])}</p><p class=who>'
            f"{e(', '.join(x for x in (q['name'], q['organisation'], q['country']) if x) or 'Anonymous')}</p></li>"
            for q in questions
        )
        listing = f"<section><h2>Questions answered</h2><ol class=answered>{entries}</ol></section>"
    elif erased:
        listing = "<p>The questions themselves were erased at the end of the retention period; the figures remain.</p>"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{e(info.title)}: report</title><link rel=icon href=/static/favicon.svg>"
        "<link rel=stylesheet href=/static/report.css></head><body><main>"
        f'<h1 dir="auto">{e(info.title)}</h1><p>Public report of the questions sent to this dialogue.</p>{summary}'
        + _chart("Questions by outcome", numbers["by_status"], _LABELS)
        + _chart("Questions by region (UN M49)", numbers["by_region"])
        + _chart("Answered questions by region", numbers["answered_by_region"])
        + _chart("Questions by UN regional group", numbers["by_un_group"])
        + _chart("Questions by country", numbers["by_country"])
        + _chart("Rejected questions by reason", numbers["rejected_by_reason"])
        + _chart("Questions by channel", numbers["by_channel"])
        + listing
        + f"<p class=downloads>Download: <a href=/e/{e(info.slug)}/report.csv>CSV</a> · "
        f"<a href=/e/{e(info.slug)}/report.json>JSON</a></p></main></body></html>"
    )
