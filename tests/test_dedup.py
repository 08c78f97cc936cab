"""Duplicate questions (liveqa.dedup): exact repeats, conflicts in six languages, the index and its decisions.

Pure and synchronous. The embedding model is loaded once for the session (about a second); the mechanics of
the index are also checked with a small deterministic stand-in so that they don't depend on the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from liveqa.dedup import HINT_AT, MERGE_AT, SUGGEST_AT, Index, Outcome, USEEmbedder, from_bytes, key, to_bytes
from liveqa.dedup.conflicts import asks, find, numbers, places
from liveqa.dedup.index import SIGNALS, WEIGHTS, Scoring, blend, signals
from liveqa.dedup.lexical import profile
from liveqa.dedup.normalize import language
from liveqa.dedup.semantic import Matrix

# "What will the Council do about Sudan?" and the same about Gaza, in the six UN languages.
SUDAN_GAZA = [
    ("What will the Security Council do about Sudan?", "What will the Security Council do about Gaza?"),
    ("Que fera le Conseil de sécurité au sujet du Soudan ?", "Que fera le Conseil de sécurité au sujet de Gaza ?"),
    ("¿Qué hará el Consejo de Seguridad sobre Sudán?", "¿Qué hará el Consejo de Seguridad sobre Gaza?"),
    (
        "Что Совет Безопасности будет делать в отношении Судана?",
        "Что Совет Безопасности будет делать в отношении Газы?",
    ),
    ("ماذا سيفعل مجلس الأمن بشأن السودان؟", "ماذا سيفعل مجلس الأمن بشأن غزة؟"),
    ("安理会将对苏丹采取什么行动？", "安理会将对加沙采取什么行动？"),
]
EXTEND_LIFT = [
    ("Will the Council extend the sanctions on Mali?", "Will the Council lift the sanctions on Mali?"),
    (
        "Le Conseil va-t-il prolonger les sanctions contre le Mali ?",
        "Le Conseil va-t-il lever les sanctions contre le Mali ?",
    ),
    ("¿Prorrogará el Consejo las sanciones contra Malí?", "¿Levantará el Consejo las sanciones contra Malí?"),
    ("Продлит ли Совет санкции против Мали?", "Снимет ли Совет санкции против Мали?"),
    ("هل سيمدد المجلس العقوبات على مالي؟", "هل سيرفع المجلس العقوبات على مالي؟"),
    ("安理会会延长对马里的制裁吗？", "安理会会解除对马里的制裁吗？"),
]
SUPPORT_OPPOSE = [
    ("Does your country support the resolution?", "Does your country oppose the resolution?"),
    ("Votre pays soutient-il la résolution ?", "Votre pays s'oppose-t-il à la résolution ?"),
    ("¿Apoya su país la resolución?", "¿Se opone su país a la resolución?"),
    ("Поддерживает ли ваша страна резолюцию?", "Возражает ли ваша страна против резолюции?"),
    ("هل تدعم بلادكم القرار؟", "هل تعارض بلادكم القرار؟"),
    ("贵国支持该决议吗？", "贵国反对该决议吗？"),
]
# Different years: a number conflict, in the six languages.
YEARS = [
    ("Will the 2030 targets be met?", "Will the 2025 targets be met?"),
    ("Les objectifs de 2030 seront-ils atteints ?", "Les objectifs de 2025 seront-ils atteints ?"),
    ("¿Se cumplirán los objetivos de 2030?", "¿Se cumplirán los objetivos de 2025?"),
    ("Будут ли достигнуты цели на 2030 год?", "Будут ли достигнуты цели на 2025 год?"),
    ("هل سيتم تحقيق أهداف عام 2030؟", "هل سيتم تحقيق أهداف عام 2025؟"),
    ("2030年的目标能实现吗？", "2025年的目标能实现吗？"),
]
# The same question worded differently, in the six languages.
PARAPHRASES = [
    ("How will the Council protect civilians in Sudan?", "How is the Council going to protect civilians in Sudan?"),
    (
        "Comment le Conseil protégera-t-il les civils au Soudan ?",
        "Comment le Conseil va-t-il protéger les civils au Soudan ?",
    ),
    ("¿Cómo protegerá el Consejo a los civiles en Sudán?", "¿Cómo va a proteger el Consejo a los civiles en Sudán?"),
    ("Как Совет будет защищать мирных жителей в Судане?", "Каким образом Совет защитит мирное население Судана?"),
    ("كيف سيحمي المجلس المدنيين في السودان؟", "كيف سيقوم المجلس بحماية المدنيين في السودان؟"),
    ("安理会将如何保护苏丹的平民？", "安理会打算怎样保护苏丹平民？"),
]
UN_LANGUAGES = ["en", "fr", "es", "ru", "ar", "zh"]  # the order of the lists above
# The same question typed differently: case, punctuation, spacing, accents, digits of another script.
EXACT = [
    ("How will the 2030 Agenda be funded?", "how will the 2030 agenda be funded"),
    ("Comment l'Agenda 2030 sera-t-il financé ?", "COMMENT L'AGENDA 2030 SERA-T-IL FINANCE"),
    ("¿Cómo se financiará la Agenda 2030?", "Como se financiara la agenda 2030???"),
    (
        "Как будет финансироваться Повестка дня на период до 2030 года?",
        "как будет финансироваться повестка дня на период до 2030 года",
    ),
    ("كيف سيتم تمويل خطة عام ٢٠٣٠؟", "كيف سيتم تمويل خطة عام 2030"),
    ("2030年议程将如何获得资金？", "２０３０年议程将如何获得资金"),
]


class HashEmbedder:
    """A deterministic stand-in: a text's vector is a sum of random vectors of its words (no model)."""

    model_id = "test-hash"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in key(text).split():
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[row] += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


class NoEmbedder(HashEmbedder):
    """Fails when asked for an embedding: proves that an index was rebuilt from stored vectors alone."""

    def encode(self, texts: Sequence[str]) -> Matrix:
        raise AssertionError("an embedding was computed")


@pytest.fixture(scope="session")
def model() -> USEEmbedder:
    embedder = USEEmbedder()
    embedder.load()
    return embedder


# --- normalisation and exact repeats ---


@pytest.mark.parametrize(("a", "b"), EXACT)
def test_exact_repeats_share_a_key(a: str, b: str) -> None:
    """Case, punctuation, spacing, accents and the script of digits don't make a question new."""
    assert key(a) == key(b)


def test_digits_of_every_script_are_ascii() -> None:
    assert key("٢٠٢٥ ۲۰۲۵ २०२५ ２０２５") == "2025 2025 2025 2025"


def test_different_numbers_are_different_keys() -> None:
    assert key("Is it 1.5 or 15?") != key("Is it 15 or 1.5?")
    assert key("1.5") != key("15")


def test_chinese_punctuation_and_spacing_do_not_matter() -> None:
    assert key("联合国、安理会") == key("联合国 安理会") == key("联合国安理会")


def test_language_guess() -> None:
    assert [language(a) for a, _ in SUDAN_GAZA] == ["en", "fr", "es", "ru", "ar", "zh"]


# --- conflicts ---


@pytest.mark.parametrize(("a", "b"), SUDAN_GAZA)
def test_different_places_conflict(a: str, b: str) -> None:
    assert [c.kind for c in find(a, b)] == ["place"]
    assert places(a) == {"SD"}
    assert places(b) == {"X-GAZA"}


@pytest.mark.parametrize(("a", "b"), EXTEND_LIFT)
def test_extend_and_lift_conflict(a: str, b: str) -> None:
    assert asks(a) == {"in force+"}
    assert asks(b) == {"in force-"}
    assert [c.kind for c in find(a, b)] == ["opposite"]


@pytest.mark.parametrize(("a", "b"), SUPPORT_OPPOSE)
def test_support_and_oppose_conflict(a: str, b: str) -> None:
    assert [c.kind for c in find(a, b)] == ["opposite"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the best way to fund the mission?", "What is the worst way to fund the mission?"),
        ("Quelle est la meilleure option ?", "Quelle est la pire option ?"),
        ("¿Cuál es la mejor opción?", "¿Cuál es la peor opción?"),
        ("Какой вариант лучший?", "Какой вариант худший?"),
        ("ما هو أفضل خيار؟", "ما هو أسوأ خيار؟"),
        ("哪个方案最好？", "哪个方案最差？"),
    ],
)
def test_best_and_worst_conflict(a: str, b: str) -> None:
    assert [c.kind for c in find(a, b)] == ["opposite"]


def test_places_are_the_same_in_every_language() -> None:
    """Sudan is SD whatever the language or the grammatical case; so no conflict between translations."""
    texts = [a for a, _ in SUDAN_GAZA] + ["Что будет с Суданом?", "وماذا عن السودان وشعبه؟", "What about the Sudanese?"]
    assert {frozenset(places(t)) for t in texts} == {frozenset({"SD"})}
    assert not find(SUDAN_GAZA[0][0], SUDAN_GAZA[5][0])


def test_south_sudan_is_not_sudan() -> None:
    assert find("What next for South Sudan?", "What next for Sudan?")


def test_who_does_what_to_whom() -> None:
    """The same places named in the other order: a conflict (never merged automatically)."""
    assert [c.kind for c in find("Will Russia support Ukraine?", "Will Ukraine support Russia?")] == ["order"]
    assert not find("Will Russia talk to Ukraine?", "Russia will talk to Ukraine when?")


def test_numbers_conflict() -> None:
    assert numbers("Is the 2030 deadline realistic?") == {"2030"}
    assert [c.kind for c in find("Will 2025 targets be met?", "Will 2030 targets be met?")] == ["number"]
    assert not find("Will the ٢٠٣٠ targets be met?", "Will the 2030 targets be met?")


def test_us_in_capitals_is_a_place_but_us_is_not() -> None:
    assert places("How can I get a US visa?") == {"US"}
    assert places("Can you tell us more?") == frozenset()


# --- vectors as bytes ---


def test_vectors_round_trip_through_bytes() -> None:
    vector = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    stored = to_bytes(vector)
    assert len(stored) == 1024  # float16
    back = from_bytes(stored)
    assert back.dtype == np.float32
    assert float(back @ vector) > 0.999
    assert np.array_equal(from_bytes(vector.astype("<f4").tobytes()), vector)
    with pytest.raises(ValueError, match="bytes"):
        from_bytes(b"\0" * 10)


# --- the blend ---


def test_blend_has_one_weight_per_signal_and_rises_with_cosine() -> None:
    assert len(WEIGHTS) == len(SIGNALS) + 1
    a, b = profile("How is the plan funded?"), profile("Who funds the plan?")
    assert blend(signals(a, b, 0.9)) > blend(signals(a, b, 0.5))
    assert 0.0 < SUGGEST_AT < MERGE_AT < 1.0
    assert HINT_AT <= SUGGEST_AT


# --- the index, with the stand-in embedder ---


def test_exact_repeat_merges_and_unknown_text_is_new() -> None:
    index = Index(HashEmbedder())
    index.add("q1", "How will the 2030 Agenda be funded?")
    decision = index.decide("how will the 2030 agenda be FUNDED")
    assert decision.outcome is Outcome.MERGE
    assert decision.match is not None and decision.match.id == "q1" and decision.match.exact
    assert decision.reason == "the same text"
    assert index.decide("???").outcome is Outcome.NEW
    assert Index(HashEmbedder()).decide("Anything at all?").outcome is Outcome.NEW


def test_an_index_decides_with_the_scoring_it_is_given() -> None:
    """The benchmark measures blends fitted on other folds through the server's own code path."""
    strict = Index(HashEmbedder(), scoring=Scoring(WEIGHTS, suggest_at=0.999, merge_at=0.9999))
    lenient = Index(HashEmbedder(), scoring=Scoring(WEIGHTS, suggest_at=0.0, merge_at=0.0))
    for index in (strict, lenient):
        index.add("q1", "How will the climate fund be financed?")
    new = strict.decide("How will the climate fund be paid for?")
    assert new.outcome is Outcome.NEW and new.suggestions == ()
    merged = lenient.decide("How will the climate fund be paid for?")
    assert merged.outcome is Outcome.MERGE and [m.id for m in merged.suggestions] == ["q1"]
    assert strict.decide("how will the climate fund be financed").outcome is Outcome.MERGE  # the same text


def test_rebuild_from_stored_vectors_computes_nothing() -> None:
    embedder = HashEmbedder()
    index = Index(embedder)
    texts = {"q1": "Who pays for peacekeeping?", "q2": "When will the mission end?", "q3": "Why was the vote delayed?"}
    stored = [(qid, text, to_bytes(index.add(qid, text))) for qid, text in texts.items()]
    rebuilt = Index.rebuild(stored, NoEmbedder())
    assert len(rebuilt) == 3
    probe = index.embed("Who pays for the peacekeeping missions?")
    before = [
        (m.id, round(m.score, 2)) for m in index.candidates("Who pays for the peacekeeping missions?", vector=probe)
    ]
    after = [
        (m.id, round(m.score, 2)) for m in rebuilt.candidates("Who pays for the peacekeeping missions?", vector=probe)
    ]
    assert before == after


def test_remove_and_re_add() -> None:
    index = Index(HashEmbedder(), capacity=2)
    for i in range(5):  # grows past its capacity
        index.add(f"q{i}", f"Question number {i} about topic {i}?")
    index.remove("q1")
    index.remove("q1")  # unknown ids are ignored
    assert len(index) == 4 and "q1" not in index and "q4" in index
    assert index.decide("question number 4 about topic 4").match is not None
    assert {m.id for m in index.candidates("Question number 1 about topic 1?", limit=10)} == {"q0", "q2", "q3", "q4"}
    index.add("q4", "Something else entirely?")  # the same id again: replaced
    assert len(index) == 4
    assert index.decide("question number 4 about topic 4").outcome is not Outcome.MERGE


def test_hints_show_only_visible_questions_and_one_per_group() -> None:
    index = Index(HashEmbedder())
    index.add("q1", "How will the climate fund be financed?", visible=False)  # pending
    assert index.candidates("How will the climate fund be financed?", visible_only=True) == []
    # a pending repeat is still grouped when it is sent
    assert index.decide("How will the climate fund be financed?").outcome is Outcome.MERGE
    index.set_visible("q1")
    index.add("q2", "how will the climate fund be financed", group="q1")
    hints = index.candidates("How will the climate fund be financed?", visible_only=True)
    assert [(m.id, m.group) for m in hints] == [("q1", "q1")]  # q2 is in q1's group: shown once
    index.set_group("q2", None)  # split off again
    assert {m.group for m in index.candidates("How will the climate fund be financed?")} == {"q1", "q2"}


# --- the index, with the model ---


@pytest.mark.parametrize(("a", "b"), EXACT)
def test_exact_repeats_merge_in_every_language(model: USEEmbedder, a: str, b: str) -> None:
    index = Index(model)
    index.add("q1", a)
    index.add("q2", "What is the role of civil society in peacebuilding?")
    decision = index.decide(b)
    assert decision.outcome is Outcome.MERGE
    assert decision.match is not None and decision.match.id == "q1"


@pytest.mark.parametrize(("a", "b"), SUDAN_GAZA + EXTEND_LIFT + SUPPORT_OPPOSE)
def test_conflicting_questions_are_never_merged(model: USEEmbedder, a: str, b: str) -> None:
    """They score like paraphrases, so at most they are suggested, with the conflict as the reason."""
    index = Index(model)
    index.add("q1", a)
    decision = index.decide(b)
    assert decision.outcome is not Outcome.MERGE
    if decision.outcome is Outcome.SUGGEST:
        assert "not merged" in decision.reason


@pytest.mark.parametrize("lang", UN_LANGUAGES)
def test_conflicts_never_merge_and_paraphrases_are_found_in_every_un_language(model: USEEmbedder, lang: str) -> None:
    """Per language: another place, another number, an opposite ask are never merged (at most suggested, with
    the conflict as the reason); the same question worded differently, or translated from English, is at least
    suggested."""
    i = UN_LANGUAGES.index(lang)
    for a, b in (SUDAN_GAZA[i], YEARS[i], EXTEND_LIFT[i], SUPPORT_OPPOSE[i]):
        index = Index(model)
        index.add("q1", a)
        decision = index.decide(b)
        assert decision.outcome is not Outcome.MERGE, (a, b, decision.reason)
        assert find(a, b), (a, b)
        if decision.outcome is Outcome.SUGGEST:
            assert "not merged" in decision.reason
    pairs = [PARAPHRASES[i]] + ([] if lang == "en" else [(PARAPHRASES[0][0], PARAPHRASES[i][0])])
    for a, b in pairs:
        index = Index(model)
        index.add("q1", a)
        index.add("q2", "What is the role of civil society in peacebuilding?")
        decision = index.decide(b)
        assert decision.outcome in (Outcome.MERGE, Outcome.SUGGEST), (a, b, decision.reason)
        assert decision.match is not None and decision.match.id == "q1" and decision.match.score >= SUGGEST_AT
        assert not decision.match.conflicts


def test_paraphrases_across_languages_are_found(model: USEEmbedder) -> None:
    index = Index(model)
    index.add("q1", "How can civil society organisations take part in the negotiations on the climate fund?")
    index.add("q2", "What is the timeline for the peacekeeping mission's withdrawal?")
    index.add("q3", "Why are women under-represented in peace talks?")
    for text, qid in [
        (
            "Comment les organisations de la société civile peuvent-elles participer aux négociations "
            "sur le fonds climat ?",
            "q1",
        ),
        ("¿Cuál es el calendario de la retirada de la misión de mantenimiento de la paz?", "q2"),
        ("Почему женщины недостаточно представлены на мирных переговорах?", "q3"),
    ]:
        decision = index.decide(text)
        assert decision.outcome is not Outcome.NEW, text
        assert decision.match is not None and decision.match.id == qid
    assert index.decide("What is your favourite football team?").outcome is Outcome.NEW


def test_hint_latency_is_small(model: USEEmbedder) -> None:
    """A smoke check, not a benchmark (bench/dedup_eval.py measures at 10,000 questions)."""
    index = Index(model)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((2000, model.dim)).astype(np.float32)
    for i, vector in enumerate(vectors):
        index.add(f"q{i}", f"question {i}", vector)
    index.add("x", "Who will fund the humanitarian response in Sudan?")
    hints = index.candidates("Who funds the humanitarian response in Sudan", min_score=HINT_AT, visible_only=True)
    assert hints and hints[0].id == "x"
