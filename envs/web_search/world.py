"""A procedurally generated world of fictional entities, its documents and its questions.

Answers about real entities can be memorized during pretraining; answers about *Anika Drovel,
born 1911 in Velmora* cannot, so the model has to search. From one seed the generator builds
countries, cities, people, companies and inventions with dates, numbers and relations
(birthplace, founder, headquarters, inventor, maker), one short encyclopedia page per entity,
and questions with 1 to 3 hops. Names are drawn so that many entities share a root ("Drasket
Industries" / "Drasket Labs", "Velmora" / "Port Velmora", siblings "Anika Drovel" / "Teren
Drovel"): every page is a distractor for its namesakes.

Everything is a pure function of ``(seed, scale)``: :func:`make_world` is cached per process and
identical across machines (only :class:`random.Random` and integer arithmetic are used).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Entity", "Hop", "Question", "World", "make_world", "TEMPLATES"]

# Short, pronounceable syllables: names stay a few tokens long for a small tokenizer.
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "st", "gr"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei"]
_CODAS = ["", "", "", "", "n", "r", "l", "s", "m", "k", "x"]

OCCUPATIONS = ["engineer", "chemist", "architect", "cartographer", "physician", "shipwright",
               "astronomer", "economist", "botanist", "clockmaker", "geologist", "printer"]
INDUSTRIES = ["shipping", "textile", "optics", "mining", "railway", "publishing", "glassworks",
              "steel", "pharmaceutical", "instrument"]
COMPANY_SUFFIXES = ["Industries", "Works", "Labs", "Holdings", "Foundry", "Company", "Group"]
DEVICES = ["Lamp", "Loom", "Engine", "Compass", "Press", "Valve", "Turbine", "Lens", "Telegraph",
           "Pump", "Clock", "Kiln"]
DEVICE_KINDS = {"Lamp": "lighting device", "Loom": "weaving machine", "Engine": "steam engine",
                "Compass": "navigation instrument", "Press": "printing press", "Valve": "pressure valve",
                "Turbine": "water turbine", "Lens": "optical lens", "Telegraph": "signalling device",
                "Pump": "hand pump", "Clock": "marine clock", "Kiln": "brick kiln"}
CITY_PREFIXES = ["Port", "New", "Upper", "Lower", "Saint", "Fort"]
FIRST_NAMES_N = 60  # size of the first-name pool: shared first names make near-namesakes


@dataclass
class Entity:
    """One fictional thing and its facts (``attrs``: year, population, relations by entity id)."""

    id: str
    kind: str  # country | city | person | company | invention
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hop:
    """One retrieval step of a gold trajectory.

    Attributes:
        query: what the gold trajectory searches for.
        doc: id of the page that holds the fact.
        evidence: the text that must be read from that page (the next entity or the answer).
    """

    query: str
    doc: str
    evidence: str


@dataclass(frozen=True)
class Question:
    id: str
    template: str
    hops_n: int
    text: str
    answer: str
    aliases: tuple[str, ...]
    hops: tuple[Hop, ...]


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class World:
    """The entities, pages and questions of one seed (see :func:`make_world`)."""

    def __init__(self, seed: int = 0, scale: float = 1.0):
        self.seed = int(seed)
        self.scale = float(scale)
        self.rng = random.Random(f"lfmgym-web-search-world:{self.seed}")
        self.entities: dict[str, Entity] = {}
        self._names: set[str] = set()
        self._words: set[str] = set()
        self._build()
        self.docs = [self._page(e) for e in self.entities.values()]
        self.by_kind: dict[str, list[Entity]] = {}
        for e in self.entities.values():
            self.by_kind.setdefault(e.kind, []).append(e)

    # -- names -------------------------------------------------------------------------------

    def _word(self, syllables: tuple[int, int] = (2, 3)) -> str:
        rng = self.rng
        for _ in range(1000):
            n = rng.randint(*syllables)
            w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n))
            w = w.capitalize()
            if 5 <= len(w) <= 9 and w not in self._words:
                self._words.add(w)
                return w
        raise RuntimeError("name space exhausted")

    def _claim(self, name: str) -> bool:
        if name in self._names:
            return False
        self._names.add(name)
        return True

    def _add(self, kind: str, name: str, **attrs: Any) -> Entity:
        ent = Entity(_slug(name), kind, name, attrs)
        assert ent.id not in self.entities, ent.id
        self.entities[ent.id] = ent
        return ent

    # -- generation --------------------------------------------------------------------------

    def _build(self) -> None:
        rng, s = self.rng, self.scale
        n_countries = max(4, round(6 * s ** 0.5))
        n_cities = max(12, round(40 * s))
        n_people = max(30, round(150 * s))
        n_companies = max(12, round(55 * s))
        n_inventions = max(12, round(55 * s))

        countries = []
        for _ in range(n_countries):
            name = self._word((2, 2))
            self._claim(name)
            countries.append(self._add("country", name))

        cities = []
        roots: list[str] = []
        while len(cities) < n_cities:
            # One root in three gets a namesake ("Velmora" and "Port Velmora").
            if roots and rng.random() < 0.3:
                name = f"{rng.choice(CITY_PREFIXES)} {rng.choice(roots)}"
            else:
                name = self._word()
                roots.append(name)
            if not self._claim(name):
                continue
            cities.append(self._add("city", name, country=rng.choice(countries).id,
                                    population=rng.randrange(2_000, 900_000, 100), founded=rng.randint(1100, 1850)))
        for country in countries:
            mine = [c for c in cities if c.attrs["country"] == country.id]
            country.attrs["capital"] = (rng.choice(mine) if mine else rng.choice(cities)).id

        first_names = [self._word((2, 2)) for _ in range(FIRST_NAMES_N)]
        people = []
        families: list[str] = []
        while len(people) < n_people:
            r = rng.random()
            if families and r < 0.25:  # a sibling: same family name
                last = rng.choice(families)
            elif families and r < 0.35:  # a near-namesake: one letter more (never a suffix porter strips)
                base = rng.choice(families)
                last = base + rng.choice(["a", "n", "k"])
            else:
                last = self._word()
                families.append(last)
            name = f"{rng.choice(first_names)} {last}"
            if not self._claim(name):
                continue
            people.append(self._add("person", name, born=rng.randint(1820, 1960), birthplace=rng.choice(cities).id,
                                    occupation=rng.choice(OCCUPATIONS)))

        companies = []
        croots: list[str] = []
        croots_seen: set[str] = set()
        while len(companies) < n_companies:
            root = rng.choice(croots) if croots and rng.random() < 0.3 else self._word()
            if root not in croots_seen:
                croots_seen.add(root)
                croots.append(root)
            name = f"{root} {rng.choice(COMPANY_SUFFIXES)}"
            if not self._claim(name):
                continue
            founder = rng.choice(people)
            companies.append(self._add(
                "company", name, founder=founder.id, founded=founder.attrs["born"] + rng.randint(22, 55),
                hq=rng.choice(cities).id, employees=rng.randrange(40, 60_000, 10), industry=rng.choice(INDUSTRIES),
            ))
            founder.attrs.setdefault("founded", []).append(companies[-1].id)

        inventions = []
        iroots: list[str] = []
        iroots_seen: set[str] = set()
        while len(inventions) < n_inventions:
            root = rng.choice(iroots) if iroots and rng.random() < 0.3 else self._word()
            if root not in iroots_seen:
                iroots_seen.add(root)
                iroots.append(root)
            device = rng.choice(DEVICES)
            name = f"{root} {device}"
            if not self._claim(name):
                continue
            inventor = rng.choice(people)
            maker = rng.choice(companies)
            inventions.append(self._add(
                "invention", name, device=device, inventor=inventor.id,
                year=inventor.attrs["born"] + rng.randint(20, 60), maker=maker.id,
            ))
            inventor.attrs.setdefault("invented", []).append(inventions[-1].id)
            maker.attrs.setdefault("makes", []).append(inventions[-1].id)

    # -- pages -------------------------------------------------------------------------------

    def name(self, entity_id: str) -> str:
        return self.entities[entity_id].name

    def _page(self, e: Entity) -> dict[str, str]:
        a, n = e.attrs, self.name
        if e.kind == "country":
            text = f"{e.name} is a country. Its capital is {n(a['capital'])}."
        elif e.kind == "city":
            text = (f"{e.name} is a city in {n(a['country'])} with a population of {_fmt_int(a['population'])}. "
                    f"It was founded in {a['founded']}.")
        elif e.kind == "person":
            last = e.name.split()[-1]
            text = f"{e.name} was {_a(a['occupation'])} born in {a['born']} in {n(a['birthplace'])}."
            for cid in a.get("founded", [])[:2]:
                text += f" {last} founded {n(cid)} in {self.entities[cid].attrs['founded']}."
            for iid in a.get("invented", [])[:2]:
                text += f" {last} invented the {n(iid)} in {self.entities[iid].attrs['year']}."
        elif e.kind == "company":
            text = (f"{e.name} is {_a(a['industry'])} firm founded by {n(a['founder'])} in {a['founded']}. "
                    f"It is headquartered in {n(a['hq'])} and has {_fmt_int(a['employees'])} employees.")
            for iid in a.get("makes", [])[:2]:
                text += f" It makes the {n(iid)}."
        elif e.kind == "invention":
            text = (f"The {e.name} is {_a(DEVICE_KINDS[a['device']])} invented by {n(a['inventor'])} in {a['year']}. "
                    f"It is made by {n(a['maker'])}.")
        else:  # pragma: no cover - kinds are fixed above
            raise ValueError(e.kind)
        return {"id": e.id, "title": e.name, "text": text}

    @property
    def fingerprint(self) -> str:
        """A hash of every page: names the cached index file, so a generator change rebuilds it."""
        h = hashlib.sha256()
        for d in self.docs:
            h.update(json.dumps(d, sort_keys=True).encode())
        return h.hexdigest()[:16]

    # -- questions ---------------------------------------------------------------------------

    def question(self, template: str, subject_id: str) -> Question:
        """The question of ``template`` (a key of :data:`TEMPLATES`) about entity ``subject_id``."""
        hops_n, kind, build = TEMPLATES[template]
        subject = self.entities[subject_id]
        if subject.kind != kind:
            raise ValueError(f"template {template!r} needs a {kind}, got {subject.kind} {subject_id!r}")
        text, answer, aliases, hops = build(self, subject)
        return Question(f"{template}:{subject_id}", template, hops_n, text, answer,
                        tuple(dict.fromkeys([answer, *aliases])), tuple(hops))

    def subjects(self, template: str) -> list[str]:
        """Ids of the entities ``template`` can ask about."""
        kind = TEMPLATES[template][1]
        return [e.id for e in self.by_kind.get(kind, [])]


# Each hop helper returns (Hop, the entity or value it leads to).

def _born_year(w: World, p: Entity) -> tuple[Hop, str]:
    return Hop(f"{p.name} born", p.id, str(p.attrs["born"])), str(p.attrs["born"])


def _birthplace(w: World, p: Entity) -> tuple[Hop, Entity]:
    city = w.entities[p.attrs["birthplace"]]
    return Hop(f"{p.name} born", p.id, city.name), city


def _founder(w: World, c: Entity) -> tuple[Hop, Entity]:
    person = w.entities[c.attrs["founder"]]
    return Hop(f"{c.name} founded", c.id, person.name), person


def _hq(w: World, c: Entity) -> tuple[Hop, Entity]:
    city = w.entities[c.attrs["hq"]]
    return Hop(f"{c.name} headquartered", c.id, city.name), city


def _inventor(w: World, i: Entity) -> tuple[Hop, Entity]:
    person = w.entities[i.attrs["inventor"]]
    return Hop(f"{i.name} invented", i.id, person.name), person


def _maker(w: World, i: Entity) -> tuple[Hop, Entity]:
    company = w.entities[i.attrs["maker"]]
    return Hop(f"{i.name} made", i.id, company.name), company


def _population(w: World, c: Entity) -> tuple[Hop, str]:
    pop = _fmt_int(c.attrs["population"])
    return Hop(f"{c.name} population", c.id, pop), pop


def _country(w: World, c: Entity) -> tuple[Hop, Entity]:
    country = w.entities[c.attrs["country"]]
    return Hop(f"{c.name} city", c.id, country.name), country


def _num_aliases(value: str) -> list[str]:
    return [value.replace(",", "")] if "," in value else []


def _chain(*steps):
    """Build a template from hop helpers: each step maps the previous entity to the next."""

    def build(w: World, subject: Entity, question: str):
        hops, cur = [], subject
        for step in steps:
            hop, cur = step(w, cur)
            hops.append(hop)
        answer = cur if isinstance(cur, str) else cur.name
        return question.format(s=subject.name), answer, _num_aliases(answer), hops

    return build


def _t(hops_n: int, kind: str, question: str, *steps):
    chain = _chain(*steps)
    return hops_n, kind, lambda w, s: chain(w, s, question)


TEMPLATES: dict[str, tuple[int, str, Any]] = {
    # one hop
    "person_born": _t(1, "person", "In what year was {s} born?", _born_year),
    "person_birthplace": _t(1, "person", "In which city was {s} born?", _birthplace),
    "company_founder": _t(1, "company", "Who founded {s}?", _founder),
    "company_hq": _t(1, "company", "In which city is {s} headquartered?", _hq),
    "invention_inventor": _t(1, "invention", "Who invented the {s}?", _inventor),
    "city_population": _t(1, "city", "What is the population of {s}?", _population),
    "city_country": _t(1, "city", "In which country is the city of {s}?", _country),
    # two hops
    "founder_born": _t(2, "company", "In what year was the founder of {s} born?", _founder, _born_year),
    "founder_birthplace": _t(2, "company", "In which city was the founder of {s} born?", _founder, _birthplace),
    "inventor_born": _t(2, "invention", "In what year was the inventor of the {s} born?", _inventor, _born_year),
    "hq_population": _t(2, "company", "What is the population of the city where {s} is headquartered?", _hq, _population),
    "birthplace_country": _t(2, "person", "In which country was {s} born?", _birthplace, _country),
    "maker_founder": _t(2, "invention", "Who founded the company that makes the {s}?", _maker, _founder),
    # three hops
    "founder_birthplace_population": _t(
        3, "company", "What is the population of the city where the founder of {s} was born?",
        _founder, _birthplace, _population),
    "inventor_birthplace_country": _t(
        3, "invention", "In which country was the inventor of the {s} born?", _inventor, _birthplace, _country),
    "maker_founder_born": _t(
        3, "invention", "In what year was the founder of the company that makes the {s} born?",
        _maker, _founder, _born_year),
    "maker_hq_population": _t(
        3, "invention", "What is the population of the city where the maker of the {s} is headquartered?",
        _maker, _hq, _population),
}


@lru_cache(maxsize=8)
def make_world(seed: int = 0, scale: float = 1.0) -> World:
    """The world of ``seed`` (about 350 pages at ``scale=1``; pages grow linearly with ``scale``)."""
    return World(seed, scale)
