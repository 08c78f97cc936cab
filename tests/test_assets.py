"""Static files served compacted: what is dropped, and what makes a file be served as it is."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from liveqa.web.assets import compact_css, compact_js, compact_json

STATIC = Path(__file__).parent.parent / "static"


def test_scripts_lose_comments_blank_lines_and_indentation() -> None:
    source = "// a comment\n/**\n * docs\n */\nfunction f() {\n  return 1; // why\n}\n\n  /* one line */\nf();\n"
    assert compact_js(source) == "function f() {\nreturn 1;\n}\nf();\n"


@pytest.mark.parametrize(
    "line",
    [
        'const url = "https://x.org // not a comment";',
        "const half = a / 2; // a slash before: kept whole",
        'const quote = "\\"" // an escaped quote before: kept whole',
    ],
)
def test_a_trailing_comment_stays_where_it_might_not_be_one(line: str) -> None:
    assert compact_js(line + "\n") == line + "\n"


@pytest.mark.parametrize(
    "source",
    [
        "const a = `two\n  lines`;\n",  # a template literal across lines: its indentation is text
        'const a = "one \\\n  two";\n',  # a string continued on the next line
        "f(); /* a comment\n  after code */\n",
        "/* a */ f();\n",
        "/* a */ f(); /* b */\n",
    ],
)
def test_what_could_change_meaning_is_left_alone(source: str) -> None:
    assert compact_js(source) == source


def test_styles_and_tables() -> None:
    assert compact_css("/* c */\n.a {\n  color: red; /* why */\n}\n") == ".a {\ncolor: red;\n}\n"
    assert compact_json('{\n  "a": "ç",\n  "b": [1, 2]\n}\n') == '{"a":"ç","b":[1,2]}'


def test_every_page_script_is_compacted() -> None:
    """Each of the pages' scripts is safe to compact (none is served whole for a construct the compactor avoids)."""
    for path in STATIC.glob("*.js"):
        source = path.read_text("utf-8")
        assert len(compact_js(source)) < len(source), path.name


async def test_served_compacted_with_a_validator(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        first = await client.get("/static/common.js")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/javascript")
        assert first.text == compact_js((STATIC / "common.js").read_text("utf-8"))
        again = await client.get("/static/common.js", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304
        assert (await client.get("/static/favicon.svg")).status_code == 200
        assert (await client.get("/static/nothing.js")).status_code == 404
