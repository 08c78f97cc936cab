"""What keeps two similar questions apart: different places, different numbers, opposite asks.

Sentence embeddings score "What will the Council do about Sudan?" and "… about Gaza?" like paraphrases, and
"extend the sanctions" like "lift the sanctions". These checks are cheap and word-based, in the six UN
languages, and cross-lingual (a place or an ask has one code whatever the language): a pair with a conflict
is never merged automatically, only suggested to the moderators.

Word entries are folded like the questions (see normalize.fold); `word*` matches any word starting with
`word`; an entry of several words matches them in sequence; Chinese entries match anywhere in the text.
Arabic words are also tried without a leading conjunction, preposition or article (و ف ب ل ك ال).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from liveqa.dedup.normalize import fold, has_cjk, key, tokens
from liveqa.dedup.places import LANGUAGES, TERRITORIES


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why two questions must not be merged automatically: kind and what each side says."""

    kind: str  # "place", "order" (the same places, in another order), "number" or "opposite"
    a: tuple[str, ...]
    b: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind}: {', '.join(self.a) or '-'} / {', '.join(self.b) or '-'}"


# Other names people use for countries, and places that are not countries (codes made up where ISO has none).
_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("usa", "america", "etats unis d amerique", "eeuu", "ee uu", "сша", "америк*", "امريكا", "美国"),
    "GB": ("uk", "britain", "great britain", "grande bretagne", "gran bretana", "британи*", "بريطانيا"),
    "RU": ("russian federation", "federation de russie", "federacion de rusia", "российск*", "روسيا الاتحاديه", "俄国"),
    "CD": ("drc", "rdc", "drc congo", "дрк"),
    "KP": ("dprk", "rpdc", "северн* коре*", "朝鲜"),
    "KR": ("южн* коре*", "南韩"),
    "PS": ("palestine", "palestina", "палестин*", "فلسطين", "巴勒斯坦"),
    "SY": ("сири*",),
    "MM": ("burma", "birmanie", "мьянм*", "бирм*", "缅甸"),
    "CI": ("ivory coast", "cote d ivoire", "costa de marfil", "кот д ивуар"),
    "TR": ("turkiye", "turquia", "турци*", "تركيا", "土耳其"),
    "CZ": ("czech republic",),
    "MK": ("macedonia",),
    "SZ": ("swaziland",),
    "TL": ("east timor",),
    "VA": ("holy see", "vatican"),
    "X-GAZA": ("gaza", "газа", "газе", "газу", "газой", "газы", "غزه", "加沙"),
    "X-WESTBANK": ("west bank", "cisjordanie", "cisjordania", "западн* берег*", "الضفه الغربيه", "约旦河西岸", "西岸"),
    "X-JERUSALEM": ("jerusalem", "jerusalen", "иерусалим*", "القدس", "耶路撒冷"),
    "X-DARFUR": ("darfur", "darfour", "дарфур*", "دارفور", "达尔富尔"),
    "X-KHARTOUM": ("khartoum", "jartum", "хартум*", "الخرطوم", "喀土穆"),
    "X-ELFASHER": ("el fasher", "al fashir", "el facher", "эль фашер*", "الفاشر", "法希尔"),
    "X-TIGRAY": ("tigray", "тыграй*", "تيغراي", "提格雷"),
    "X-DONBAS": ("donbas", "donbass", "donbas*", "донбасс*", "دونباس", "顿巴斯"),
    "X-CRIMEA": ("crimea", "crimee", "крым*", "القرم", "克里米亚"),
    "X-KYIV": ("kyiv", "kiev", "киев*", "كييف", "基辅"),
    "X-ALEPPO": ("aleppo", "alep", "alepo", "алеппо", "حلب", "阿勒颇"),
    "X-IDLIB": ("idlib", "идлиб*", "ادلب", "伊德利卜"),
    "X-RAFAH": ("rafah", "рафах*", "رفح", "拉法"),
    "X-SAHEL": ("sahel", "сахел*", "منطقه الساحل", "萨赫勒"),
    "X-RAKHINE": ("rakhine", "ракхайн*", "راخين", "若开"),
    "X-KASHMIR": ("kashmir", "cachemire", "cachemira", "кашмир*", "كشمير", "克什米尔"),
    "X-KARABAKH": ("karabakh", "karabagh", "karabaj", "карабах*", "كاراباخ", "卡拉巴赫"),
    "X-MARIUPOL": ("mariupol", "мариупол*", "ماريوبول", "马里乌波尔"),
    "X-PORTAUPRINCE": ("port au prince", "пор*о пренс*", "بور او برنس", "太子港"),
    "X-COXSBAZAR": ("cox s bazar", "кокс*базар*", "كوكس بازار", "科克斯巴扎尔"),
}

# Opposite asks: for each concept, the words for one direction ("+") and for the other ("-"). Prepositions
# ("against", "contre", "против", "ضد") are left out: "sanctions against Mali" asks for nothing opposite.
_OPPOSITES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "in force": (
        (
            # keep / extend / renew / impose
            *("extend*", "renew*", "prolong*", "maintain*", "impos*", "reimpos*"),
            *("prolonger", "prolonge*", "reconduir*", "reconduct*", "renouvel*", "mainten*", "maintien*", "impose*"),
            *("prorrog*", "extender", "extienda*", "extiende*", "extension", "renov*", "manten*", "mantien*", "impon*"),
            *("продл*", "сохран*", "возобнов*", "ввест*", "введ*", "ввод*"),
            *("تمديد", "يمدد", "تمدد", "مدد", "تجديد", "يجدد", "ابقاء", "فرض", "يفرض", "تفرض"),
            *("延长", "延期", "续期", "维持", "保持", "实施", "施加"),
        ),
        (
            # lift / end / remove / suspend
            *("lift*", "end", "ending", "remov*", "suspend*", "terminat*", "abolish*", "scrap*"),
            *("lever", "leve", "levee*", "levent", "levera*", "suppr*", "suspend*", "mettre fin", "abol*", "allege*"),
            *("levant*", "levantar*", "levante*", "suprim*", "suspend*", "poner fin", "elimin*", "abol*"),
            *("снят*", "сним*", "сняти*", "отмен*", "прекрат*", "приостанов*", "ослаб*"),
            *("رفع", "يرفع", "ترفع", "الغاء", "يلغي", "تلغي", "انهاء", "ينهي", "تعليق", "يعلق", "تخفيف"),
            *("取消", "解除", "终止", "撤销", "结束", "暂停", "放宽"),
        ),
    ),
    "support": (
        (
            *("support*", "endors*", "favor", "favour", "in favo*"),
            *("soutien*", "soutenir", "soutient", "soutiendr*", "appui*", "appuy*"),
            *("apoy*", "apoya*", "respald*"),
            *("поддерж*", "одобр*"),
            *("دعم", "يدعم", "تدعم", "تاييد", "يؤيد", "تؤيد", "يويد", "تويد"),
            *("支持", "赞成", "拥护", "赞同"),
        ),
        (
            *("oppos*", "reject*", "veto*"),
            *("oppos*", "rejet*", "rejeter", "rejett*"),
            *("opone*", "oponer*", "oponen", "oposic*", "en contra", "rechaz*", "vet*"),
            *("выступа* против", "отвер*", "возраж*", "вето"),
            *("معارضه", "يعارض", "تعارض", "رفض", "يرفض", "ترفض", "الفيتو", "فيتو"),
            *("反对", "拒绝", "否决"),
        ),
    ),
    "amount": (
        (
            *("increas*", "expand*", "boost*", "scal* up"),
            *("augment*", "accroi*", "accru*", "hausse*", "elargi*"),
            *("aument*", "increment*", "ampli*"),
            *("увелич*", "расшир*", "повыш*", "нараст*", "нараща*"),
            *("زياده", "يزيد", "تزيد", "توسيع"),
            *("增加", "提高", "扩大", "增强"),
        ),
        (
            *("decreas*", "reduc*", "cut", "cuts", "cutting", "lower*", "shrink*", "scal* down"),
            *("redui*", "reduct*", "diminu*", "baisse*"),
            *("reduc*", "reduj*", "disminu*", "recort*"),
            *("сокра*", "уменьш*", "сниж*"),
            *("خفض", "تخفيض", "يخفض", "تقليص", "يقلص", "تقليل"),
            *("减少", "降低", "削减", "缩减"),
        ),
    ),
    "quality": (
        (
            *("best", "better", "greatest", "top"),
            *("meilleur*", "mieux"),
            *("mejor", "mejores"),
            *("лучш*",),
            *("افضل", "احسن"),
            *("最好", "最佳", "更好"),
        ),
        (
            *("worst", "worse"),
            *("pire", "pires", "pis"),
            *("peor", "peores"),
            *("худш*",),
            *("اسوا",),
            *("最差", "最坏", "最糟", "更差", "更糟"),
        ),
    ),
    "permission": (
        (
            *("allow*", "permit*", "legali*", "authori*"),
            *("autoris*", "permet*", "permis", "legalis*"),
            *("permit*", "autoriz*", "legaliz*"),
            *("разреш*", "легализ*", "позвол*"),
            *("السماح", "يسمح", "تسمح", "اباحه", "تقنين"),
            *("允许", "准许", "合法化", "批准"),
        ),
        (
            *("ban", "bans", "banning", "banned", "prohibit*", "forbid*", "outlaw*"),
            *("interdi*", "prohib*"),
            *("prohib*", "vetar", "veda*"),
            *("запрет*", "запрещ*"),
            *("حظر", "يحظر", "تحظر", "منع", "يمنع", "تمنع"),
            *("禁止", "取缔"),
        ),
    ),
}

_ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "وس", "فس", "و", "ف", "ب", "ل", "ك", "س")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff]")
_NUMBER = re.compile(r"\d+")
_US = re.compile(r"\bU\.?S\.?(?:A\.?)?(?!\w)")


def _variants(token: str) -> tuple[str, ...]:
    """The token, and for an Arabic word also the word without a leading clitic (و ف ب ل ك ال)."""
    if not _ARABIC_LETTER.match(token):
        return (token,)
    found = [token]
    for prefix in _ARABIC_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 2:
            found.append(token[len(prefix) :])
    return tuple(found)


def _arabic_core(token: str) -> str:
    """An Arabic name's word without its article, so that it matches whatever clitic the text puts in front."""
    if _ARABIC_LETTER.match(token) and token.startswith("ال") and len(token) > 3:
        return token[2:]
    return token


@dataclass(frozen=True, slots=True)
class _Pattern:
    words: tuple[str, ...]  # folded; a trailing "*" makes a word a prefix
    code: str


def _pattern_words(entry: str, *, prefix_names: bool) -> tuple[str, ...]:
    out: list[str] = []
    for part in entry.split():
        words = [_arabic_core(w) for w in tokens(part)]
        if words and part.endswith("*"):
            words[-1] += "*"
        out += words
    if prefix_names and out and not entry.endswith("*"):
        out[-1] = _name_stem(out[-1])
    return tuple(out)


def _name_stem(word: str) -> str:
    """A country name's last word as a prefix that also matches its inflections and adjectives, when long enough."""
    if _ARABIC_LETTER.match(word):
        return word
    if re.match("[\u0400-\u04ff]", word):  # Russian declines names: Судан, Судана, Судане; Сирия, Сирии
        stem = word[:-1] if word[-1] in "аяоеиыйь" else word
        return stem + "*" if len(stem) >= 4 else word
    return word + "*" if len(word) >= 5 else word


class _Matcher:
    """Finds the codes of a set of entries in a text: whole words, word prefixes, word sequences, Chinese substrings."""

    def __init__(self, entries: Iterable[tuple[str, str]], *, prefix_names: bool = False) -> None:
        self.exact: dict[str, list[_Pattern]] = {}
        self.prefix: dict[str, list[tuple[str, _Pattern]]] = {}
        self.chinese: list[tuple[str, str]] = []
        for entry, code in entries:
            if has_cjk(entry):
                self.chinese.append((fold(entry).replace(" ", ""), code))
                continue
            words = _pattern_words(entry, prefix_names=prefix_names)
            if not words:
                continue
            pattern = _Pattern(words, code)
            first = words[0]
            if first.endswith("*"):
                self.prefix.setdefault(first[:3], []).append((first[:-1], pattern))
            else:
                self.exact.setdefault(first, []).append(pattern)

    def codes(self, text: str) -> set[str]:
        return set(self.ordered(text))

    def ordered(self, text: str) -> list[str]:
        """The codes found, in the order of their first mention."""
        first = self.positions(text)
        return sorted(first, key=lambda code: first[code])

    def positions(self, text: str) -> dict[str, int]:
        """The codes found, each with the index of the word where it is first mentioned."""
        words = tokens(text)
        first: dict[str, int] = {}
        for i, word in enumerate(words):
            for variant in _variants(word):
                for pattern in self.exact.get(variant, ()):
                    if self._rest(pattern, words, i):
                        first.setdefault(pattern.code, i)
                for stem, pattern in self.prefix.get(variant[:3], ()):
                    if variant.startswith(stem) and self._rest(pattern, words, i):
                        first.setdefault(pattern.code, i)
        if self.chinese and has_cjk(text):
            joined = "".join(words)
            for entry, code in self.chinese:
                if (at := joined.find(entry)) >= 0:
                    first[code] = min(first.get(code, at), at)
        return first

    @staticmethod
    def _rest(pattern: _Pattern, words: list[str], start: int) -> bool:
        if start + len(pattern.words) > len(words):
            return False
        for offset, want in enumerate(pattern.words[1:], start=1):
            got = _variants(words[start + offset])
            if want.endswith("*"):
                if not any(g.startswith(want[:-1]) for g in got):
                    return False
            elif want not in got:
                return False
        return True


@lru_cache(maxsize=1)
def _places() -> _Matcher:
    entries = [(name, code) for code, names in TERRITORIES.items() for name in names]
    entries += [(alias, code) for code, aliases in _ALIASES.items() for alias in aliases]
    return _Matcher(entries, prefix_names=True)


@lru_cache(maxsize=1)
def _asks() -> _Matcher:
    entries = [
        (word, f"{concept}{sign}")
        for concept, sides in _OPPOSITES.items()
        for sign, words in zip("+-", sides, strict=True)
        for word in words
    ]
    return _Matcher(entries)


@lru_cache(maxsize=8192)
def places(text: str) -> frozenset[str]:
    """The places a text names, as ISO 3166 codes (or X-… codes for places that aren't countries)."""
    return frozenset(place_order(text))


@lru_cache(maxsize=8192)
def place_order(text: str) -> tuple[str, ...]:
    """The places a text names, in the order it first names them ("Will Russia support Ukraine?": RU, UA)."""
    first = _places().positions(text)
    if (us := _US.search(text)) and "US" not in first:  # "US" in capitals; folded, it would be the pronoun
        first["US"] = len(tokens(text[: us.start()]))
    return tuple(sorted(first, key=lambda code: first[code]))


@lru_cache(maxsize=8192)
def numbers(text: str) -> frozenset[str]:
    """The numbers a text holds, as ASCII digits without leading zeros (digits of any script count)."""
    return frozenset(n.lstrip("0") or "0" for n in _NUMBER.findall(key(text)))


@lru_cache(maxsize=8192)
def asks(text: str) -> frozenset[str]:
    """Directional asks in a text: "support+", "support-", "in force+" (extend, impose), "in force-" (lift)…"""
    return frozenset(_asks().codes(text))


@dataclass(frozen=True, slots=True)
class Marks:
    """What a text names or asks for, in codes that are the same in every language."""

    places: frozenset[str]
    numbers: frozenset[str]
    asks: frozenset[str]
    place_order: tuple[str, ...] = ()


def marks(text: str) -> Marks:
    return Marks(places(text), numbers(text), asks(text), place_order(text))


def between(a: Marks, b: Marks) -> list[Conflict]:
    """Every reason why two texts may be asking different things (an empty list: none found)."""
    found: list[Conflict] = []
    if a.places != b.places:
        found.append(Conflict("place", tuple(sorted(a.places - b.places)), tuple(sorted(b.places - a.places))))
    elif len(a.place_order) > 1 and a.place_order != b.place_order:  # who does what to whom
        found.append(Conflict("order", a.place_order, b.place_order))
    if a.numbers != b.numbers:
        found.append(Conflict("number", tuple(sorted(a.numbers - b.numbers)), tuple(sorted(b.numbers - a.numbers))))
    for concept in _OPPOSITES:
        sa = {s[-1] for s in a.asks if s[:-1] == concept}
        sb = {s[-1] for s in b.asks if s[:-1] == concept}
        if len(sa) == 1 and len(sb) == 1 and sa != sb:
            found.append(Conflict("opposite", (concept + sa.pop(),), (concept + sb.pop(),)))
    return found


def find(a: str, b: str) -> list[Conflict]:
    """Every reason why texts a and b may be asking different things (an empty list: none found)."""
    return between(marks(a), marks(b))


__all__ = ["LANGUAGES", "Conflict", "Marks", "asks", "between", "find", "marks", "numbers", "place_order", "places"]
