"""The organisation directory: accredited organisations a participant picks from, in any script, by name or
acronym, with or without accents. Pure: the store keeps the entries, this finds them."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from liveqa.dedup.normalize import fold, tokens

ACCREDITATIONS = ("general", "special", "roster", "")  # ECOSOC consultative status, or none given


class Organisation(msgspec.Struct, kw_only=True, frozen=True):
    id: str  # stable: a digest of the folded name and country
    name: str
    acronym: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # UN M49 region code (derived from the country when not given)
    accreditation: str = ""  # general, special, roster (ECOSOC), or ""
    website: str = ""


def org_id(name: str, country: str) -> str:
    return hashlib.sha256(f"{fold(' '.join(name.split()))}\x00{country.upper()}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Rejected:
    line: int
    why: str


def parse_csv(text: str, region_of: dict[str, str] | None = None) -> tuple[list[Organisation], list[Rejected]]:
    """Rows of a CSV with columns name (required), acronym, country, region, accreditation, website."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if rows.fieldnames is None or "name" not in [f.strip().lower() for f in rows.fieldnames]:
        return [], [Rejected(1, "the CSV needs a 'name' column")]
    found: list[Organisation] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        name = " ".join(row.get("name", "").split())
        country = row.get("country", "").upper()
        accreditation = row.get("accreditation", "").lower()
        if not name or len(name) > 200:
            rejected.append(Rejected(line, "a name of 1 to 200 characters is needed"))
            continue
        if country and (len(country) != 2 or not country.isalpha()):
            rejected.append(Rejected(line, f"country {country!r} is not an ISO 3166 two-letter code"))
            continue
        if accreditation not in ACCREDITATIONS:
            rejected.append(Rejected(line, f"accreditation {accreditation!r} is not one of general, special, roster"))
            continue
        ident = org_id(name, country)
        if ident in seen:
            rejected.append(Rejected(line, "the same organisation (name and country) is listed above"))
            continue
        seen.add(ident)
        region = row.get("region", "") or (region_of or {}).get(country, "")
        found.append(
            Organisation(
                id=ident,
                name=name,
                acronym=row.get("acronym", "")[:40],
                country=country,
                region=region,
                accreditation=accreditation,
                website=row.get("website", "")[:300],
            )
        )
    return found, rejected


class Directory:
    """Organisations searchable by name or acronym: folded (case, accents, Arabic letter variants), by the start of
    any word of the name, the acronym, or anywhere in the name."""

    def __init__(self, organisations: Iterable[Organisation] = ()) -> None:
        self._orgs: list[Organisation] = []
        self._names: list[str] = []
        self._words: list[list[str]] = []
        self._acronyms: list[str] = []
        self._exact: dict[str, Organisation] = {}
        self._ids: dict[str, Organisation] = {}
        for org in organisations:
            self.add(org)

    def __len__(self) -> int:
        return len(self._orgs)

    def add(self, org: Organisation) -> None:
        self._orgs.append(org)
        self._names.append(fold(org.name))
        self._words.append(tokens(org.name))
        self._acronyms.append(fold(org.acronym))
        self._ids[org.id] = org
        for label in (org.name, org.acronym):
            if label:
                self._exact.setdefault(fold(" ".join(label.split())), org)

    def get(self, org_id: str) -> Organisation | None:
        return self._ids.get(org_id)

    def match(self, organisation: str) -> Organisation | None:
        """The listed organisation a participant named (its name or acronym, folded), if any."""
        return self._exact.get(fold(" ".join(organisation.split()))) if organisation.strip() else None

    def search(self, query: str, limit: int = 10) -> list[Organisation]:
        """Best first: the acronym, then names whose words start with every word of the query, then the rest
        containing it."""
        wanted = fold(" ".join(query.split()))[:100]
        words = list(dict.fromkeys(tokens(wanted)))[:5]  # a few distinct words: a long query costs no more
        if not wanted:
            return []
        scored: list[tuple[int, int, Organisation]] = []
        for i, org in enumerate(self._orgs):
            if self._acronyms[i] and self._acronyms[i] == wanted:
                rank = 0
            elif words and all(any(w.startswith(q) for w in self._words[i]) for q in words):
                rank = 1 if self._names[i].startswith(wanted) else 2
            elif wanted in self._names[i] or (self._acronyms[i] and self._acronyms[i].startswith(wanted)):
                rank = 3
            else:
                continue
            scored.append((rank, len(org.name), org))
        scored.sort(key=lambda item: (item[0], item[1], item[2].name))
        return [org for _, _, org in scored[:limit]]


__all__ = ["ACCREDITATIONS", "Directory", "Organisation", "Rejected", "org_id", "parse_csv"]
