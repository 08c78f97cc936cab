"""What participants are sent when the queue order changes: the one step that made it, when there is one."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from liveqa.views import after_step, queue_step
from tests.view_model import ClientView

ORDERS = st.lists(st.sampled_from([f"q{i}" for i in range(12)]), unique=True, max_size=12)


def _applied(before: list[str], step: tuple[str, str | None]) -> list[str]:
    """The order a page holds after the step (tests/view_model.py applies it as the pages do)."""
    view = ClientView()
    view.queue = list(before)
    qid, after = step
    view.apply({"type": "update", "id": "1-0", **({"unqueue": qid} if after is None else {"place": [qid, after]})})
    return view.queue


@given(ORDERS, st.data())
def test_one_question_queued_moved_or_dropped_is_one_step(before: list[str], data: st.DataObject) -> None:
    after = list(before)
    kind = data.draw(st.sampled_from(["queue", "move", "drop"]))
    if kind == "queue":
        new = data.draw(st.sampled_from([f"n{i}" for i in range(3)]))
        after.insert(data.draw(st.integers(0, len(after))), new)
    elif len(after) >= 1:
        qid = after.pop(data.draw(st.integers(0, len(after) - 1)))
        if kind == "move":
            after.insert(data.draw(st.integers(0, len(after))), qid)
    step = queue_step(before, after)
    if after == before:
        assert step is None  # nothing to say: the whole order goes (as it always did)
    else:
        assert step is not None
        assert _applied(before, step) == after


@given(ORDERS, ORDERS)
def test_a_step_is_given_only_when_it_makes_the_new_order(before: list[str], after: list[str]) -> None:
    if (step := queue_step(before, after)) is not None:
        assert _applied(before, step) == after


def test_the_steps_spelled_out() -> None:
    assert queue_step(["a", "b", "c"], ["a", "x", "b", "c"]) == ("x", "a")
    assert queue_step([], ["x"]) == ("x", "")
    assert queue_step(["a", "b", "c"], ["c", "a", "b"]) == ("c", "")  # pinned: to the head
    assert queue_step(["a", "b", "c", "d"], ["a", "c", "d", "b"]) == ("b", "d")
    assert queue_step(["a", "b", "c"], ["a", "c"]) == ("b", None)
    assert queue_step(["a", "b", "c"], ["b", "a", "d"]) is None  # two steps: the whole order goes
    assert queue_step(["a", "b"], ["a", "b"]) is None


def test_a_step_that_does_not_fit_the_order_held_is_refused() -> None:
    """What the load generator counts as a queue error: the client's order has gone wrong, nothing is guessed."""
    assert after_step(["a", "b"], ("c", "a")) == ["a", "c", "b"]
    assert after_step(["a", "b"], unqueue="a") == ["b"]
    with pytest.raises(ValueError):
        after_step(["a", "b"], ("c", "x"))
    with pytest.raises(ValueError):
        after_step(["a", "b"], unqueue="x")
