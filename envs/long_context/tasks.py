"""Long-context tasks with exact answers, from 10k to over 1M characters.

Four procedural families (below), solved by code alone, and three semantic ones (:mod:`.semantic`:
reviews and support tickets whose labels only a model can read), each a function
``(rng, target_chars, difficulty) -> Task`` whose context has at least ``target_chars`` characters:

* ``needle``: S-NIAH-like retrieval. Filler prose hides several "access code" sentences for
  different vaults; the question asks for one vault's code. Context: one string.
* ``aggregation``: OOLONG-like counting/summing over many order records split into log files.
  Context: a list of strings (one per file).
* ``multi_hop``: linked person/company records; follow name -> person -> (mentor ->) company ->
  city. Context: one string.
* ``pairwise``: count unordered pairs of users that agree on two attributes. Context: a list of
  strings.

A task's ``meta`` holds the context itself (``meta["context"]``), its family, and the gold code
cells (``meta["gold_cells"]``: assistant messages, each with one ```repl block) that solve it
exactly; :meth:`LongContextEnv.demonstrate` replays them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lfmgym.env import Task

from lfmgym.envs.long_context.semantic import SEMANTIC_FAMILIES

__all__ = ["FAMILIES", "PROCEDURAL_FAMILIES", "SEMANTIC_FAMILIES", "LENGTHS", "generate", "context_summary"]

# Difficulty tier -> target context length in characters.
LENGTHS: dict[int, int] = {0: 10_000, 1: 50_000, 2: 250_000, 3: 1_000_000}

_WORDS = (
    "the a of and to in is was that for on with as by at from it this be are or an which "
    "market river engine garden window station letter morning winter council harbor signal "
    "kitchen journey voice paper forest island bridge summer archive museum village channel "
    "quietly slowly often never always briefly later again together across beyond during "
    "green small ancient bright distant heavy narrow silent careful sudden ordinary local "
    "walked noticed carried opened followed described remembered painted gathered measured "
    "people weather history evening machine picture number question pattern surface".split()
)
_ADJECTIVES = (
    "amber azure brisk cedar coral dusky ember frosty gilded hollow ivory jade lunar misty "
    "noble onyx pale quartz rusty scarlet silver tidal umber velvet willow").split()
_NOUNS = (
    "harbor meadow falcon lantern summit canyon orchard beacon glacier comet delta ember "
    "forge grove haven islet kestrel lagoon marsh nexus oasis prairie quarry ridge spire").split()
_SYLLABLES = "ka lo mi ra sen tu vel no ri da fen gor hal ine jo ku lem mar nor pa qui ros sta".split()
_CITIES = (
    "Lisbon Oslo Nairobi Lima Hanoi Quito Dakar Perth Tunis Riga Porto Accra Bergen Cusco Fez "
    "Graz Kyoto Malmo Nantes Osaka Pune Sendai Tartu Turku Varna Zadar Bilbao Cork Derby Essen").split() + [
    "New York", "Cape Town", "San Diego", "Buenos Aires", "Kuala Lumpur", "Tel Aviv",
]
_REGIONS = ["north", "south", "east", "west", "central"]
_ITEMS = ["lamp", "chair", "kettle", "radio", "blanket", "clock", "mirror", "teapot", "stool", "vase"]
_STATUSES = ["shipped", "returned", "pending", "cancelled"]
_COLORS = ["red", "teal", "amber", "violet", "olive", "navy", "coral", "gray"]


def _filler(rng: np.random.Generator, n_chars: int) -> list[str]:
    """Sentences of plausible-looking prose totalling about ``n_chars`` characters."""
    words = np.array(_WORDS)
    sentences, total = [], 0
    while total < n_chars:
        batch_lengths = rng.integers(6, 16, size=256)
        picks = words[rng.integers(len(words), size=int(batch_lengths.sum()))]
        start = 0
        for length in batch_lengths:
            chunk = picks[start : start + length]
            start += length
            sentence = " ".join(chunk)
            sentence = sentence[0].upper() + sentence[1:] + "."
            sentences.append(sentence)
            total += len(sentence) + 1
            if total >= n_chars:
                break
    return sentences


def _split_docs(lines: list[str], n_docs: int) -> list[str]:
    """Split record lines into ``n_docs`` newline-joined documents of similar size."""
    bounds = np.linspace(0, len(lines), n_docs + 1).astype(int)
    return ["\n".join(lines[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _docs_for(target_chars: int) -> int:
    return int(min(100, max(4, target_chars // 10_000)))


def _fence(code: str) -> str:
    return f"```repl\n{code.strip()}\n```"


def _task(family: str, key: str, prompt_question: str, answer: str, context: str | list[str],
          cells: list[str], difficulty: int, extra: dict[str, Any] | None = None) -> Task:
    meta = {"family": family, "context": context, "question": prompt_question, "gold_cells": cells}
    meta.update(extra or {})
    return Task(id=f"long_context-{family}-{difficulty}-{key}", prompt=prompt_question, answer=answer,
                difficulty=difficulty, meta=meta)


# ------------------------------------------------------------------------------ families


def needle(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    n_keys = 3 + 2 * difficulty
    combos = [f"{a}-{n}" for a in _ADJECTIVES for n in _NOUNS]
    keys = [combos[i] for i in rng.choice(len(combos), size=n_keys, replace=False)]
    codes = [str(c) for c in rng.choice(np.arange(1_000_000, 10_000_000), size=n_keys, replace=False)]
    needles = [f"The access code for the {k} vault is {c}." for k, c in zip(keys, codes)]
    sentences = _filler(rng, target_chars + 1 - sum(len(s) + 1 for s in needles))
    for sentence, position in zip(needles, rng.integers(0, len(sentences) + 1, size=n_keys)):
        sentences.insert(int(position), sentence)
    context = " ".join(sentences)
    target = int(rng.integers(n_keys))
    question = f"What is the access code for the {keys[target]} vault? Answer with the code only."
    cells = [
        _fence(
            "import re\n"
            "print(len(context))\n"
            "hits = re.findall(r'access code for the ([\\w-]+) vault is (\\d+)', context)\n"
            "print(hits)"
        ),
        _fence(f"codes = dict(hits)\nFINAL(codes[{keys[target]!r}])"),
    ]
    return _task("needle", f"{keys[target]}-{codes[target]}", question, codes[target], context, cells, difficulty)


def _order_lines(rng: np.random.Generator, target_chars: int) -> tuple[list[str], list[dict[str, Any]]]:
    records, lines, total = [], [], 0
    order_id = int(rng.integers(10_000, 20_000))
    while total < target_chars:
        n = 512
        regions = rng.integers(len(_REGIONS), size=n)
        items = rng.integers(len(_ITEMS), size=n)
        statuses = rng.choice(len(_STATUSES), size=n, p=[0.55, 0.15, 0.2, 0.1])
        qtys = rng.integers(1, 10, size=n)
        dates = (np.datetime64("2024-01-01") + rng.integers(0, 366, size=n).astype("timedelta64[D]")).astype(str)
        for r, i, s, q, date in zip(regions, items, statuses, qtys, dates):
            order_id += 1
            rec = {"region": _REGIONS[r], "item": _ITEMS[i], "status": _STATUSES[s], "qty": int(q)}
            line = (f"order {order_id} | date={date} | region={rec['region']} | item={rec['item']} "
                    f"| qty={rec['qty']} | status={rec['status']}")
            records.append(rec)
            lines.append(line)
            total += len(line) + 1
            if total >= target_chars:
                break
    return lines, records


_PARSE_ORDERS = (
    "rows = []\n"
    "for doc in context:\n"
    "    for line in doc.splitlines():\n"
    "        fields = dict(part.split('=', 1) for part in line.split(' | ')[1:])\n"
    "        rows.append(fields)\n"
    "print(len(rows), rows[0])"
)


def aggregation(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    n_docs = _docs_for(target_chars)
    lines, records = _order_lines(rng, target_chars + n_docs)  # + the newline lost per document
    docs = _split_docs(lines, n_docs)
    if rng.random() < 0.5:
        region, status = _REGIONS[int(rng.integers(len(_REGIONS)))], _STATUSES[int(rng.integers(len(_STATUSES)))]
        answer = sum(1 for r in records if r["region"] == region and r["status"] == status)
        question = (f"How many orders in region {region} have status {status}? "
                    "Answer with the number only.")
        compute = (f"total = sum(1 for r in rows if r['region'] == {region!r} and r['status'] == {status!r})\n"
                   "print(total)\nFINAL_VAR('total')")
        key = f"count-{region}-{status}"
    else:
        item, status = _ITEMS[int(rng.integers(len(_ITEMS)))], _STATUSES[int(rng.integers(len(_STATUSES)))]
        answer = sum(r["qty"] for r in records if r["item"] == item and r["status"] == status)
        question = (f"What is the total quantity (sum of qty) of item {item} over orders with status "
                    f"{status}? Answer with the number only.")
        compute = (f"total = sum(int(r['qty']) for r in rows if r['item'] == {item!r} and r['status'] == {status!r})\n"
                   "print(total)\nFINAL_VAR('total')")
        key = f"sum-{item}-{status}"
    cells = [_fence("print(type(context).__name__, len(context))\nprint(context[0][:200])"),
             _fence(_PARSE_ORDERS), _fence(compute)]
    return _task("aggregation", f"{key}-{answer}", question, str(answer), docs, cells, difficulty)


def _unique_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct made-up names ("Kalo Senturi"), drawn in vectorised batches."""
    syllables = np.array(_SYLLABLES)
    seen: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < n:
        batch = max(64, 2 * (n - len(ordered)))
        parts = syllables[rng.integers(len(syllables), size=(batch, 5))]
        for row in parts:
            name = f"{(row[0] + row[1]).capitalize()} {(row[2] + row[3] + row[4]).capitalize()}"
            if name not in seen:
                seen.add(name)
                ordered.append(name)
                if len(ordered) == n:
                    break
    return ordered


def _people_and_companies(rng: np.random.Generator, n_people: int) -> dict[str, Any]:
    n_companies = max(6, n_people // 15)
    names = _unique_names(rng, n_people)
    person_ids = [f"P{i:06d}" for i in rng.choice(np.arange(1_000_000), size=n_people, replace=False)]
    company_ids = [f"C{i:04d}" for i in rng.choice(np.arange(10_000), size=n_companies, replace=False)]
    suffixes = rng.choice(["Labs", "Works", "Foods", "Bank"], size=n_companies)
    company_names = [f"{n.split()[1]} {s}" for n, s in zip(_unique_names(rng, n_companies), suffixes)]
    company_city = [_CITIES[int(c)] for c in rng.integers(len(_CITIES), size=n_companies)]
    works_at = rng.integers(n_companies, size=n_people)
    mentors = rng.integers(n_people, size=n_people)
    lines = [f"Person {pid}: name={name}; works_at={company_ids[w]}; mentor={person_ids[m]}"
             for pid, name, w, m in zip(person_ids, names, works_at, mentors)]
    lines += [f"Company {cid}: name={cname}; city={city}"
              for cid, cname, city in zip(company_ids, company_names, company_city)]
    lines = [lines[i] for i in rng.permutation(len(lines))]
    return {"names": names, "person_ids": person_ids, "works_at": works_at, "mentors": mentors,
            "company_city": company_city, "context": "\n".join(lines)}


def multi_hop(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    n_people = max(30, target_chars // 68)
    while True:  # grow until the context reaches its target length (deterministic for the rng)
        graph = _people_and_companies(rng, n_people)
        if len(graph["context"]) >= target_chars:
            break
        n_people = int(n_people * target_chars / len(graph["context"])) + 8
    names, person_ids, context = graph["names"], graph["person_ids"], graph["context"]
    works_at, mentors, company_city = graph["works_at"], graph["mentors"], graph["company_city"]
    who = int(rng.integers(n_people))
    via_mentor = difficulty > 0 and rng.random() < 0.7
    if via_mentor:
        city = company_city[works_at[mentors[who]]]
        question = (f"In which city is the company where the mentor of {names[who]} works? "
                    "Answer with the city name only.")
        follow = (f"person = people[{names[who]!r}]\n"
                  "mentor = records[person['mentor']]\n"
                  "company = records[mentor['works_at']]\n")
    else:
        city = company_city[works_at[who]]
        question = f"In which city is the company where {names[who]} works? Answer with the city name only."
        follow = f"person = people[{names[who]!r}]\ncompany = records[person['works_at']]\n"
    cells = [
        _fence("print(len(context))\nprint(context[:300])"),
        _fence(
            "import re\n"
            "records, people = {}, {}\n"
            "for line in context.splitlines():\n"
            "    m = re.match(r'(Person|Company) (\\w+): (.*)', line)\n"
            "    if m:\n"
            "        fields = dict(part.split('=', 1) for part in m.group(3).split('; '))\n"
            "        records[m.group(2)] = fields\n"
            "        if m.group(1) == 'Person':\n"
            "            people[fields['name']] = fields\n"
            "print(len(records), len(people))"
        ),
        _fence(follow + "print(company)\nanswer['content'] = company['city']\nanswer['ready'] = True"),
    ]
    return _task("multi_hop", f"{person_ids[who]}-{'m' if via_mentor else 'w'}", question, city, context, cells,
                 difficulty, {"hops": 3 if via_mentor else 2})


def pairwise(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    attributes = {"city": _CITIES[:20], "color": _COLORS, "year": [str(y) for y in range(1970, 2006)]}
    lines, users, total = [], [], 0
    user_id = int(rng.integers(1000, 5000))
    n_docs = _docs_for(target_chars)
    while total < target_chars + n_docs:  # + the newline lost per document
        picks = {k: rng.integers(len(values), size=256) for k, values in attributes.items()}
        for j in range(256):
            user_id += 1
            user = {k: attributes[k][int(picks[k][j])] for k in attributes}
            line = f"user U{user_id} | city={user['city']} | color={user['color']} | year={user['year']}"
            users.append(user)
            lines.append(line)
            total += len(line) + 1
            if total >= target_chars + n_docs:
                break
    first, second = sorted(str(a) for a in rng.choice(list(attributes), size=2, replace=False))
    groups = Counter((u[first], u[second]) for u in users)
    answer = sum(n * (n - 1) // 2 for n in groups.values())
    docs = _split_docs(lines, n_docs)
    question = (f"How many unordered pairs of distinct users have both the same {first} and the same "
                f"{second}? Answer with the number only.")
    cells = [
        _fence("print(type(context).__name__, len(context))\nprint(context[0][:200])"),
        _fence(
            "from collections import Counter\n"
            "groups = Counter()\n"
            "for doc in context:\n"
            "    for line in doc.splitlines():\n"
            "        fields = dict(part.split('=', 1) for part in line.split(' | ')[1:])\n"
            f"        groups[(fields[{first!r}], fields[{second!r}])] += 1\n"
            "pairs = sum(n * (n - 1) // 2 for n in groups.values())\n"
            "print(len(groups), pairs)\n"
            "FINAL_VAR('pairs')"
        ),
    ]
    return _task("pairwise", f"{first}-{second}-{answer}", question, str(answer), docs, cells, difficulty)


# The procedural families are solved by code alone; the semantic ones need ``llm_query``.
PROCEDURAL_FAMILIES: dict[str, Callable[[np.random.Generator, int, int], Task]] = {
    "needle": needle,
    "aggregation": aggregation,
    "multi_hop": multi_hop,
    "pairwise": pairwise,
}
FAMILIES: dict[str, Callable[[np.random.Generator, int, int], Task]] = {**PROCEDURAL_FAMILIES, **SEMANTIC_FAMILIES}


FAMILY_GROUPS = {"procedural": tuple(PROCEDURAL_FAMILIES), "semantic": tuple(SEMANTIC_FAMILIES)}


def check_task_args(families: Sequence[str] | str | None, context_lengths: dict[Any, Any] | None
                    ) -> tuple[tuple[str, ...], dict[int, int]]:
    """``(families, lengths)`` from an env's arguments; a clear error names the bad field.

    ``families`` may name families and the groups ``"procedural"`` and ``"semantic"``; ``None`` is all.
    """
    if isinstance(families, str):
        families = [families]
    names: list[str] = []
    for name in families if families is not None else FAMILIES:
        for member in FAMILY_GROUPS.get(name, (name,)):
            if member not in names:
                names.append(member)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise ValueError(f"families: unknown {unknown}; known: {sorted(FAMILIES)} or the groups {sorted(FAMILY_GROUPS)}")
    if not names:
        raise ValueError("families: must name at least one family")
    try:
        lengths = {int(k): int(v) for k, v in (context_lengths or {}).items()}  # JSON keys are str
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f"context_lengths: expected {{tier: characters}} integers, got {context_lengths!r}") from None
    bad = {k: v for k, v in lengths.items() if k not in LENGTHS or v < 1_000}
    if bad:
        raise ValueError(f"context_lengths: tiers must be in {sorted(LENGTHS)} and lengths >= 1000, got {bad}")
    return tuple(names), {**LENGTHS, **lengths}


def generate(rng: np.random.Generator, difficulty: int, families: tuple[str, ...] | None = None,
             lengths: dict[int, int] | None = None) -> Task:
    """One task at ``difficulty`` (its context length tier), family drawn from ``families``."""
    families = tuple(families or FAMILIES)
    family = families[int(rng.integers(len(families)))]
    target = (lengths or LENGTHS)[difficulty]
    return FAMILIES[family](rng, target, difficulty)


def context_summary(context: str | list[str]) -> str:
    """What the prompt says about the context: its type, total length and chunk lengths."""
    if isinstance(context, str):
        return f"a str of {len(context):,} characters (one chunk)"
    lengths = [len(c) for c in context]
    shown = ", ".join(f"{n:,}" for n in lengths[:8]) + (", ..." if len(lengths) > 8 else "")
    return (f"a list of {len(lengths)} str chunks, {sum(lengths):,} characters in total; "
            f"chunk lengths: [{shown}] (min {min(lengths):,}, max {max(lengths):,})")
