"""Long-context families whose key facts are free text: the sub-model (``llm_query``) has to read them.

Each item (a product review, a support ticket) has a field code can parse (product, date) and a
free-text body whose *label* (positive/negative, the kind of problem) is carried by varied
phrasing: negations, concessions, irony, and words of the other label ("I was braced for
disappointment, but ..."; "I paid for express shipping and ..."). The generator knows every
item's label, so the gold answer is exact; a keyword rule over the same text gets many items
wrong, and one wrong item spoils a count.

Families, each ``(rng, target_chars, difficulty) -> Task``:

* ``sentiment_count``: reviews; "how many reviews of the kettle are positive?"
* ``ticket_count``: support tickets; "how many tickets filed in March are about payment
  problems?" (the category is described, never labelled).
* ``label_aggregate``: OOLONG-style aggregation of per-item semantic labels: "which kind of
  problem was reported most often in May?" or "which product has the most negative reviews?"

Difficulty = context length (the tier) x items needing a judgment: an item needs one when the
parseable field selects it; their number grows with the context (``meta["judgments"]``).

The gold cells chunk the selected items, call ``llm_query`` on each chunk to label them, and
aggregate in code. :func:`oracle_sub_model` answers those calls correctly from the generator's
labels; :func:`keyword_sub_model` answers them with a keyword rule, the best plain code does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from lfmgym.env import Task

from lfmgym.envs.long_context import wording as w
from lfmgym.envs.long_context.wording import LABEL_SETS

__all__ = ["SEMANTIC_FAMILIES", "oracle_sub_model", "keyword_sub_model", "keyword_label", "LABEL_SETS"]

Messages = list[dict[str, Any]]

# ---------------------------------------------------------------------------- the keyword rule

_KEYWORDS = {
    "positive": r"love|lovely|great|perfect|excellent|happy|better|best|recommend|worth|nice|good|brilliant"
                r"|solid|works|fine|no complaints|like new",
    "negative": r"disappoint|waste|broke|useless|\bnot\b|never|\bback\b|worse|\bbad\b|flimsy|stopped|gave up"
                r"|regret|complain|fault|can't|let down|dislike|problem|sadly|fell apart",
    "billing": r"charg|card|refund|invoice|paid|pay|price|money|bill|discount|statement",
    "access": r"password|log ?in|sign(?:ed|s)? ?(?:in|out)|account|locked|verification|code|profile",
    "delivery": r"parcel|deliver|courier|arriv|shipping|address|tracking|package|box",
    "malfunction": r"broken|stops|crash|noise|leak|display|screen|won't|heat|button|switch",
}


def keyword_label(text: str, labels: tuple[str, ...]) -> str:
    """The label whose keywords occur most often in ``text`` (ties: the first label)."""
    lowered = text.lower()
    hits = [len(re.findall(_KEYWORDS[label], lowered)) for label in labels]
    return labels[int(np.argmax(hits))]


# ---------------------------------------------------------------------------- items


def _fill(template: str, rng: np.random.Generator, item: str) -> str:
    return template.format(
        item=item, duration=w.DURATIONS[int(rng.integers(len(w.DURATIONS)))],
        person=w.PEOPLE[int(rng.integers(len(w.PEOPLE)))], day=w.DAYS[int(rng.integers(len(w.DAYS)))],
        room=w.ROOMS[int(rng.integers(len(w.ROOMS)))], month=w.MONTHS[int(rng.integers(len(w.MONTHS)))])


def _body(rng: np.random.Generator, cores: list[str], asides: list[str], item: str) -> str:
    """One to two label-carrying sentences with zero to two asides, in a random order."""
    n_cores = 1 + int(rng.random() < 0.4)
    picks = [cores[int(i)] for i in rng.choice(len(cores), size=n_cores, replace=False)]
    picks += [asides[int(i)] for i in rng.choice(len(asides), size=int(rng.integers(0, 3)), replace=False)]
    order = rng.permutation(len(picks))
    return " ".join(_fill(picks[int(i)], rng, item) for i in order)


def _review(rng: np.random.Generator, rid: int, product: str, label: str) -> str:
    cores = w.POSITIVE if label == "positive" else w.NEGATIVE
    return f"Review R{rid} | product={product} | {_body(rng, cores, w.REVIEW_ASIDES, product)}"


def _ticket(rng: np.random.Generator, tid: int, month: int, label: str) -> str:
    day = int(rng.integers(1, 29))
    item = w.PRODUCTS[int(rng.integers(len(w.PRODUCTS)))]
    return f"Ticket T{tid} | filed=2024-{month + 1:02d}-{day:02d} | {_body(rng, w.TICKETS[label], w.TICKET_ASIDES, item)}"


def _items(rng: np.random.Generator, target_chars: int, make: Callable[[int], tuple[str, dict[str, Any]]]
           ) -> tuple[list[str], list[dict[str, Any]]]:
    lines, records, total = [], [], 0
    start = int(rng.integers(10_000, 20_000))
    while total < target_chars:
        line, record = make(start + len(lines))
        lines.append(line)
        records.append(record)
        total += len(line) + 1
    return lines, records


def _reviews(rng: np.random.Generator, target_chars: int) -> tuple[list[str], list[dict[str, Any]]]:
    def make(rid: int) -> tuple[str, dict[str, Any]]:
        product = w.PRODUCTS[int(rng.integers(len(w.PRODUCTS)))]
        label = "positive" if rng.random() < 0.5 else "negative"
        return _review(rng, rid, product, label), {"id": f"R{rid}", "key": product, "label": label}

    return _items(rng, target_chars, make)


def _tickets(rng: np.random.Generator, target_chars: int) -> tuple[list[str], list[dict[str, Any]]]:
    categories = list(w.CATEGORIES)

    def make(tid: int) -> tuple[str, dict[str, Any]]:
        month = int(rng.integers(12))
        label = categories[int(rng.integers(len(categories)))]
        return _ticket(rng, tid, month, label), {"id": f"T{tid}", "key": w.MONTHS[month], "label": label}

    return _items(rng, target_chars, make)


# ---------------------------------------------------------------------------- gold cells

_LABEL_PROMPTS = {
    "sentiment": "Is each review below positive or negative about the product? Reply with one line per "
                 "review, in the form `R123: positive` or `R123: negative`.\n\n",
    "category": "What kind of problem does each support ticket below report: billing (payments, charges), "
                "access (signing in, the account), delivery (shipping, parcels) or malfunction (the product "
                "does not work)? Reply with one line per ticket, in the form `T123: billing`.\n\n",
}


def _fence(code: str) -> str:
    return f"```repl\n{code.strip()}\n```"


def _select_cell(key_field: str, key: str) -> str:
    return _fence(
        "import re\n"
        "from collections import Counter\n"
        "items = []\n"
        "for doc in context:\n"
        "    for line in doc.splitlines():\n"
        "        item_id, field, text = line.split(' | ', 2)\n"
        f"        if field.split('=', 1)[1] {key_field}:\n"
        "            items.append((item_id.split()[1], line))\n"
        f"print(len(items), 'items selected by {key!s}')\n"
        "print(items[0][1] if items else 'none')"
    )


def _label_cell(scheme: str, batch: int) -> str:
    labels = "|".join(LABEL_SETS[scheme])
    return _fence(
        f"PROMPT = {_LABEL_PROMPTS[scheme]!r}\n"
        "labels = {}\n"
        f"for start in range(0, len(items), {batch}):\n"
        f"    batch = items[start:start + {batch}]\n"
        "    reply = llm_query(PROMPT + '\\n'.join(line for _, line in batch))\n"
        f"    for item_id, label in re.findall(r'([RT]\\d+)\\W+({labels})', reply, re.I):\n"
        "        labels[item_id.upper()] = label.lower()\n"
        "print(len(labels), 'labelled of', len(items), Counter(labels.values()))"
    )


def _batch_size(n_items: int, max_calls: int = 10, max_items: int = 150) -> int:
    """Items per ``llm_query``: at most ``max_calls`` calls when ``max_items`` per call allow it
    (150 items of at most ~300 characters stay under the default 50,000-character prompt limit)."""
    return min(max_items, max(20, math.ceil(n_items / max_calls)))


def _peek_cell() -> str:
    return _fence("print(type(context).__name__, len(context))\nprint(context[0][:400])")


def _docs(lines: list[str], target_chars: int) -> list[str]:
    n_docs = int(min(100, max(4, target_chars // 10_000)))
    bounds = np.linspace(0, len(lines), n_docs + 1).astype(int)
    return ["\n".join(lines[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _task(family: str, key: str, question: str, answer: str, lines: list[str], records: list[dict[str, Any]],
          selected: list[dict[str, Any]], cells: list[str], difficulty: int, target_chars: int) -> Task:
    meta = {"family": family, "context": _docs(lines, target_chars + 100), "question": question,
            "gold_cells": cells, "labels": {r["id"]: r["label"] for r in records},
            "judgments": len(selected)}
    return Task(id=f"long_context-{family}-{difficulty}-{key}", prompt=question, answer=answer,
                difficulty=difficulty, meta=meta)


# ---------------------------------------------------------------------------- families


def sentiment_count(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    lines, records = _reviews(rng, target_chars + 100)
    product = w.PRODUCTS[int(rng.integers(len(w.PRODUCTS)))]
    label = "positive" if rng.random() < 0.5 else "negative"
    selected = [r for r in records if r["key"] == product]
    answer = sum(r["label"] == label for r in selected)
    question = f"How many reviews of the {product} are {label}? Answer with the number only."
    cells = [_peek_cell(), _select_cell(f"== {product!r}", product),
             _label_cell("sentiment", _batch_size(len(selected))),
             _fence(f"total = sum(1 for v in labels.values() if v == {label!r})\nprint(total)\nFINAL_VAR('total')")]
    return _task("sentiment_count", f"{product.replace(' ', '_')}-{label}-{answer}", question, str(answer), lines,
                 records, selected, cells, difficulty, target_chars)


def ticket_count(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    lines, records = _tickets(rng, target_chars + 100)
    month = w.MONTHS[int(rng.integers(12))]
    category = list(w.CATEGORIES)[int(rng.integers(len(w.CATEGORIES)))]
    selected = [r for r in records if r["key"] == month]
    answer = sum(r["label"] == category for r in selected)
    question = (f"How many support tickets filed in {month} 2024 are about {w.CATEGORIES[category]}? "
                "Answer with the number only.")
    month_number = f"-{w.MONTHS.index(month) + 1:02d}-"
    cells = [_peek_cell(), _select_cell(f"[4:8] == {month_number!r}", month),
             _label_cell("category", _batch_size(len(selected))),
             _fence(f"total = sum(1 for v in labels.values() if v == {category!r})\nprint(total)\nFINAL_VAR('total')")]
    return _task("ticket_count", f"{month}-{category}-{answer}", question, str(answer), lines, records, selected,
                 cells, difficulty, target_chars)


def _tied_top(counts: Counter, choices: list[str]) -> list[str]:
    """The labels sharing the highest count (every choice when nothing was counted)."""
    if not counts:
        return list(choices)
    best = max(counts.values())
    return [label for label in choices if counts.get(label, 0) == best]


def label_aggregate(rng: np.random.Generator, target_chars: int, difficulty: int) -> Task:
    """OOLONG-style: the most frequent semantic label within a parseable slice of the items."""
    if rng.random() < 0.5:
        lines, records = _tickets(rng, target_chars + 100)
        month_index = int(rng.integers(12))
        month = w.MONTHS[month_index]
        selected = [r for r in records if r["key"] == month]
        tied = _tied_top(Counter(r["label"] for r in selected), list(w.CATEGORIES))
        top = tied[int(rng.integers(len(tied)))]
        if len(tied) > 1:  # break the tie (or fill an empty month) with one more ticket of the top category
            tid = int(records[-1]["id"][1:]) + 1
            lines.append(_ticket(rng, tid, month_index, top))
            records.append({"id": f"T{tid}", "key": month, "label": top})
            selected.append(records[-1])
        question = (f"Which kind of problem was reported most often in the support tickets filed in {month} 2024? "
                    "Answer with one word: billing, access, delivery or malfunction.")
        month_number = f"-{month_index + 1:02d}-"
        cells = [_peek_cell(), _select_cell(f"[4:8] == {month_number!r}", month),
                 _label_cell("category", _batch_size(len(selected))),
                 _fence("top = Counter(labels.values()).most_common(1)[0][0]\n"
                        "print(Counter(labels.values()).most_common())\nFINAL_VAR('top')")]
        return _task("label_aggregate", f"tickets-{month}-{top}", question, top, lines, records, selected, cells,
                     difficulty, target_chars)
    lines, records = _reviews(rng, target_chars + 100)
    candidates = sorted(w.PRODUCTS[int(i)] for i in rng.choice(len(w.PRODUCTS), size=3, replace=False))
    selected = [r for r in records if r["key"] in candidates]
    tied = _tied_top(Counter(r["key"] for r in selected if r["label"] == "negative"), candidates)
    top = tied[int(rng.integers(len(tied)))]
    if len(tied) > 1:  # break the tie with one more negative review of the top product
        rid = int(records[-1]["id"][1:]) + 1
        lines.append(_review(rng, rid, top, "negative"))
        records.append({"id": f"R{rid}", "key": top, "label": "negative"})
        selected.append(records[-1])
    names = ", ".join(f"the {p}" for p in candidates[:-1]) + f" and the {candidates[-1]}"
    question = (f"Which of these products has the most negative reviews: {names}? "
                "Answer with the product name only.")
    cells = [_peek_cell(), _select_cell(f"in {candidates!r}", "product"),
             _fence("products = {item_id: line.split(' | ')[1].split('=', 1)[1] for item_id, line in items}\n"
                    "print(Counter(products.values()))"),
             _label_cell("sentiment", _batch_size(len(selected))),
             _fence("negatives = Counter(products[i] for i, v in labels.items() if v == 'negative')\n"
                    "top = negatives.most_common(1)[0][0]\nprint(negatives.most_common())\nFINAL_VAR('top')")]
    return _task("label_aggregate", f"reviews-{top.replace(' ', '_')}", question, top, lines, records, selected,
                 cells, difficulty, target_chars)


SEMANTIC_FAMILIES: dict[str, Callable[[np.random.Generator, int, int], Task]] = {
    "sentiment_count": sentiment_count,
    "ticket_count": ticket_count,
    "label_aggregate": label_aggregate,
}

# ---------------------------------------------------------------------------- sub-models for the oracles

_ITEM_LINE = re.compile(r"^(?:Review|Ticket) ([RT]\d+) \| [^|]*\| (.*)$", re.M)
_REPL_REQUEST = "stored in `context`"


def _labelling_sub_model(label_of: Callable[[str, str], str | None]) -> Callable[[Messages], str]:
    """A sub-model answering the gold cells' labelling prompts, ``id: label`` per item line.

    Asked to run its own REPL (a depth-2 sub-call), it hands the request on with ``llm_query``.
    """

    def sub_model(messages: Messages) -> str:
        prompt = str(messages[-1].get("content", "")) if messages else ""
        if _REPL_REQUEST in prompt and messages[0].get("role") == "system":
            return _fence("FINAL(llm_query(context))")
        answers = [f"{item_id}: {label}" for item_id, text in _ITEM_LINE.findall(prompt)
                   if (label := label_of(item_id, text)) is not None]
        return "\n".join(answers) if answers else "I found no review or ticket lines to label."

    return sub_model


def oracle_sub_model(task: Task) -> Callable[[Messages], str]:
    """``llm_query`` answered correctly: each item's label from the generator (``meta["labels"]``)."""
    labels = dict(task.meta.get("labels") or {})
    return _labelling_sub_model(lambda item_id, text: labels.get(item_id))


def keyword_sub_model(task: Task | None = None) -> Callable[[Messages], str]:
    """``llm_query`` answered by :func:`keyword_label`: what a keyword/regex rule in code gets."""

    def label_of(item_id: str, text: str) -> str:
        return keyword_label(text, LABEL_SETS["sentiment" if item_id.startswith("R") else "category"])

    return _labelling_sub_model(label_of)
