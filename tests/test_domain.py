"""Pure rules: transitions, text normalisation, author checks, state application. No I/O."""

from __future__ import annotations

import pytest

from liveqa.domain import errors
from liveqa.domain.model import EventInfo, Question, Status
from liveqa.domain.rules import TRANSITIONS, Action, check_author, check_slug, check_tags, transition
from liveqa.domain.state import EventState, LogEntry, log_id_key
from liveqa.domain.text import clean, graphemes

CASES = [(status, action) for action in Action for status in Status]


@pytest.mark.parametrize(("status", "action"), CASES)
def test_transition_table_is_total(status: Status, action: Action) -> None:
    """Every (status, action) either has a target in the table or raises BadTransition."""
    if status in TRANSITIONS[action]:
        assert transition(status, action) is TRANSITIONS[action][status]
    else:
        with pytest.raises(errors.BadTransition):
            transition(status, action)


def test_withdrawn_is_final() -> None:
    """A withdrawn question can't come back by any action."""
    assert all(Status.WITHDRAWN not in table for table in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  What   about\tSudan?  ", "What about Sudan?"),
        ("e\u0301te\u0301", "\u00e9t\u00e9"),  # NFC
        ("\u202eevil\u202c text", "evil text"),  # bidi overrides stripped
        ("a\x00b\x1bc", "abc"),
        ("line one\r\n\r\n\r\n\r\nline two", "line one\n\nline two"),
        ("\u200bzero width at the edges\u200b", "zero width at the edges"),
        ("中文 问题", "中文 问题"),
        ("ما هو موقف المجلس؟", "ما هو موقف المجلس؟"),
    ],
)
def test_clean_normalises_text(raw: str, stored: str) -> None:
    assert clean(raw, max_length=500) == stored


def test_clean_keeps_at_most_ten_lines() -> None:
    assert clean("\n".join(str(i) for i in range(20)), max_length=500).count("\n") == 9


@pytest.mark.parametrize("raw", ["", "   ", "\u202e\u202c", "\n\n\t"])
def test_clean_refuses_empty_text(raw: str) -> None:
    with pytest.raises(errors.InvalidText):
        clean(raw, max_length=500)


def test_length_counts_what_a_reader_sees() -> None:
    """Emoji with modifiers and combining marks count as one character each."""
    assert graphemes("👍🏽e\u0301") == 2
    assert clean("👍🏽" * 10, max_length=10)
    with pytest.raises(errors.InvalidText):
        clean("👍🏽" * 11, max_length=10)


def test_author_is_all_or_nothing() -> None:
    assert check_author(" Ana ", " CSO  X ", "ke", anonymous_allowed=False) == ("Ana", "CSO X", "KE")
    assert check_author("", "", "", anonymous_allowed=True) == ("", "", "")
    with pytest.raises(errors.AnonymousNotAllowed):
        check_author("", "", "", anonymous_allowed=False)
    with pytest.raises(errors.InvalidAuthor):
        check_author("Ana", "", "KE", anonymous_allowed=True)
    with pytest.raises(errors.InvalidAuthor):
        check_author("Ana", "CSO", "Kenya", anonymous_allowed=True)


def test_tags_are_deduplicated_and_checked() -> None:
    assert check_tags(["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(errors.BadTransition):
        check_tags(["two words"])
    with pytest.raises(errors.BadTransition):
        check_tags([str(i) for i in range(9)])


@pytest.mark.parametrize("slug", ["UPPER", "-dash", "a" * 41, "sp ace", "br{ace}", ""])
def test_bad_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValueError):
        check_slug(slug)


def test_log_ids_compare_numerically() -> None:
    assert log_id_key("9-1") < log_id_key("10-0") < log_id_key("10-2")


def test_state_applies_entries_once_and_in_order() -> None:
    """Entries at or before the head are ignored, so a replay never applies anything twice."""
    state = EventState(EventInfo(slug="s", title="t"), "e", "1-0")
    question = Question(id="1", pid="p", text="q", status=Status.APPROVED)
    state.apply(LogEntry(id="2-0", question=question, queue=["1"]))
    state.apply(LogEntry(id="3-0", votes=("1", 4)))
    state.apply(LogEntry(id="3-0", votes=("1", 99)))
    state.apply(LogEntry(id="2-5", votes=("1", 98)))
    assert state.questions["1"].votes == 4 and state.queue == ["1"] and state.head == "3-0"
    state.apply(LogEntry(id="4-0", screen="1"))
    assert state.screen == "1"


def test_un_regional_groups_cover_the_193_member_states_once() -> None:
    from liveqa.domain import regions

    members = [country for group in regions.UN_GROUPS.values() for country in group]
    assert len(members) == len(set(members)) == 193
    assert {group: len(countries) for group, countries in regions.UN_GROUPS.items()} == {
        "african": 54,
        "asia_pacific": 54,  # 53 and Kiribati
        "eastern_european": 23,
        "latin_american_caribbean": 33,
        "western_european_others": 29,  # 28 and the United States
    }
    assert [regions.un_group(c) for c in ("ne", "TR", "US", "AM", "CY", "PS", "VA", "GL")] == [
        "african", "western_european_others", "western_european_others", "eastern_european", "asia_pacific", "", "", "",
    ]  # fmt: skip
    assert all(regions.region(country) for country in members)  # every Member State has an M49 region
