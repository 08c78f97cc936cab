"""What a client holds after applying the frames it received: the reference for resume tests."""

from __future__ import annotations

from typing import Any

from liveqa.views import after_step


class ClientView:
    """Applies snapshot/update/votes/own/event frames the way the pages do."""

    def __init__(self) -> None:
        self.questions: dict[str, dict[str, Any]] = {}
        self.queue: list[str] = []
        self.screen = ""
        self.mine: dict[str, dict[str, Any]] = {}
        self.open = True

    def apply(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "snapshot":
            self.questions = {q["id"]: dict(q) for q in frame["questions"]}
            self.queue = list(frame["queue"])
            self.screen = frame["screen"]
            self.mine = {q["id"]: dict(q) for q in frame.get("mine", [])}
        elif kind == "update":
            if (question := frame.get("question")) is not None:
                self.questions[question["id"]] = dict(question)
            for regrouped in (frame.get("group"), *(frame.get("also") or ())):
                if regrouped is not None:
                    self.questions[regrouped["id"]] = dict(regrouped)
            if removed := frame.get("removed"):
                self.questions.pop(removed, None)
            if (queue := frame.get("queue")) is not None:
                self.queue = list(queue)
            if frame.get("place") is not None or frame.get("unqueue"):
                self.queue = after_step(self.queue, frame.get("place"), frame.get("unqueue", ""))
            if (screen := frame.get("screen")) is not None:
                self.screen = screen
        elif kind == "votes":
            for qid, votes in frame["votes"].items():
                if qid in self.questions:
                    self.questions[qid]["votes"] = votes
        elif kind == "own":
            self.mine[frame["question"]["id"]] = dict(frame["question"])
        elif kind == "event":
            self.open = frame["event"]["open"]

    def apply_all(self, frames: list[dict[str, Any]]) -> ClientView:
        for frame in frames:
            self.apply(frame)
        return self

    def comparable(self) -> tuple[Any, ...]:
        """The state as a value. Vote tallies inside `mine` are not kept live (they follow `votes` frames)."""
        mine = {qid: {k: v for k, v in q.items() if k != "votes"} for qid, q in self.mine.items()}
        return self.questions, self.queue, self.screen, mine, self.open
