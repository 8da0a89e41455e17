"""Write ``texts.jsonl`` and ``episodes.jsonl``: labeled doom loops as models make them.

Run ``python tests/data/doom_loops/make_labeled.py`` to regenerate (deterministic). Every row has
a ``split``: ``dev`` rows were used while choosing the detector's rules and thresholds, ``test``
rows were not (held out). The two splits draw their words, sentences, tool names and arguments
from disjoint halves of the pools below and from different seeds, so a rule tuned on ``dev``
cannot have memorized ``test`` phrasing.

``texts.jsonl`` -- one generation per line: ``{"id", "split", "kind", "text", "finished", "label"}``
(held-out rows from templates written after the rules were fixed also have a ``template``).
``label`` is the truth by construction: the model was stuck repeating itself when it was cut.
The cap is a character budget (~4 characters a token, caps of 96 to 512 tokens) and cuts
anywhere, mid-word included.

* positives: ``periodic`` (a sentence or paragraph repeated), ``cut`` (the same, cut mid-word),
  ``digits`` (``0.3333``, ``1212``, ``4 4 4``, no whitespace or some), ``short`` (1-3 words,
  punctuation, emoji, newlines), ``counter`` (``Step 17: check again.``, ``"id": "call_19"``, one
  integer +1 per copy, everything else identical), ``long`` (a 24-48 word sentence said twice at
  a short cap: periods up to about half the cap), ``approximate`` (sampled: a word substituted in
  about every other copy);
* negatives: ``prose`` (capped or finished), ``loop_then_eos`` (finished), ``mult_table``,
  ``agenda`` (dated, weekday and item vary), ``csv``, ``code``, ``enumeration`` (numbered items
  with varying values), ``counting`` (1, 2, 3, ...), ``template_list`` (one slot varies in every
  copy: capitals of countries), ``restated`` (a short sentence said twice at the cap),
  ``separator`` (a short rule line).

``episodes.jsonl`` -- one multi-turn episode per line: ``{"id", "split", "kind", "format",
"messages", "finished", "label"}`` with LFM2 pythonic or JSON tool calls in assistant content and
``tool`` results. Positives: ``repeated_call`` (same call, same result, until the turn limit;
also with a changing call id), ``call_cycle`` (two calls alternating with the same results),
``repeated_message`` (the same assistant text every turn), ``turn_loop`` (the last turn is a
text doom loop). Negatives: ``progress`` (same tool, new arguments each turn: pagination, other
cities), ``polling`` (same call, the result changes), ``retry_then_answer`` (finished), ``twice``
(the same call only twice), ``varied`` (a normal multi-tool episode cut by the turn limit).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

WORDS = """the a model tool answer value number result check again let me think first second
step value total sum list item city weather price order user file data table row column report
today tomorrow morning evening meeting project team budget plan review update draft final
quick slow small large early late green blue red black white round square simple careful
compute verify return print search fetch open close read write send keep move turn start stop
river mountain garden window kitchen market station library bridge harbor forest village
because therefore however although meanwhile finally instead perhaps certainly usually
apple orange lemon bread cheese butter coffee water paper pencil chair table lamp clock phone
""".split()
SENTENCE_STARTS = ["I think", "Let me", "We should", "The answer", "So the", "Now I", "First we",
                   "It seems", "Maybe the", "Then the", "This means", "Note that", "Of course",
                   "In short", "To verify", "As expected"]
EMOJI = ["😂", "🙂", "🔥", "✅", "👍", "🤔", "💡", "🎉"]
COUNTRIES = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"),
             ("Japan", "Tokyo"), ("Egypt", "Cairo"), ("Peru", "Lima"), ("Kenya", "Nairobi"),
             ("Chile", "Santiago"), ("Norway", "Oslo"), ("Greece", "Athens"), ("Canada", "Ottawa"),
             ("Cuba", "Havana"), ("Iran", "Tehran"), ("Mali", "Bamako"), ("Nepal", "Kathmandu"),
             ("Poland", "Warsaw"), ("Sweden", "Stockholm"), ("Ghana", "Accra"), ("Laos", "Vientiane")]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
TOOLS = ["get_weather", "search_web", "lookup_price", "read_file", "get_stock", "find_flight",
         "convert_units", "get_time", "query_db", "translate"]
ARG_VALUES = ["Paris", "Oslo", "Lima", "Cairo", "Tokyo", "Rome", "Accra", "Quito", "Doha", "Riga",
              "report.txt", "notes.md", "AAPL", "MSFT", "kg", "EUR", "2024-05-01", "hello", "sql", "fr"]


class Pools:
    """The half of every pool one split may use."""

    def __init__(self, split: str):
        half = 0 if split == "dev" else 1
        pick = lambda xs: xs[half::2]  # noqa: E731
        self.words, self.starts, self.emoji = pick(WORDS), pick(SENTENCE_STARTS), pick(EMOJI)
        self.countries, self.tools, self.args = pick(COUNTRIES), pick(TOOLS), pick(ARG_VALUES)


def sentence(rng, pools: Pools, n_words: int | None = None) -> str:
    n = int(n_words or rng.integers(5, 14))
    words = [str(rng.choice(pools.words)) for _ in range(max(1, n - 2))]
    text = f"{rng.choice(pools.starts)} {' '.join(words)}"
    return text[0].upper() + text[1:] + str(rng.choice([".", ".", ".", "?", "!"]))


def prose(rng, pools: Pools, chars: int) -> str:
    out = ""
    while len(out) < chars:
        out += sentence(rng, pools) + " "
    return out


def cap_chars(rng) -> int:
    return int(rng.choice([96, 128, 256, 384, 512])) * 4


def cut_at(text: str, limit: int, mid_word: bool, rng) -> str:
    """The text at the cap: ``limit`` characters, moved to a word end (or into a word)."""
    text = text[:limit]
    if mid_word:
        while text and (text[-1].isspace() or not text[-1].isalnum()):
            text = text[:-1]
        return text[:-1] if len(text) > 1 and text[-2].isalnum() else text
    cut = text.rstrip()
    last_space = cut.rfind(" ")
    return cut[:last_space + 1] if last_space > len(cut) - 20 else cut


def loop_text(rng, pools: Pools, unit: str, limit: int, mid_word: bool, min_copies: int = 4) -> str:
    prefix = prose(rng, pools, int(rng.integers(0, max(1, limit // 3))))[: limit // 3]
    body = unit * (limit // max(1, len(unit)) + 2)
    text = prefix + body
    limit = max(limit, len(prefix) + min_copies * len(unit) + 2)
    return cut_at(text, limit, mid_word, rng)


def build_texts(split: str, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    pools = Pools(split)
    rows: list[dict] = []

    def add(kind, text, finished, label):
        rows.append({"id": f"{split}-{kind}-{sum(r['kind'] == kind for r in rows)}", "split": split, "kind": kind,
                     "text": text, "finished": finished, "label": label})

    for _ in range(25):  # a sentence or a few, repeated verbatim
        unit = " ".join(sentence(rng, pools) for _ in range(int(rng.integers(1, 3)))) + " "
        add("periodic", loop_text(rng, pools, unit, max(cap_chars(rng), 5 * len(unit)), False), False, True)
    for _ in range(25):  # the same, cut by the cap inside a word
        unit = " ".join(sentence(rng, pools) for _ in range(int(rng.integers(1, 3)))) + " "
        add("cut", loop_text(rng, pools, unit, max(cap_chars(rng), 5 * len(unit)) + int(rng.integers(0, 40)), True),
            False, True)
    digit_units = ["3", "6", "0", "9", "12", "123", "142857", "01", "7 ", "1, 2, ", "0.5, ", "42 "]
    for _ in range(20):
        unit = str(rng.choice(digit_units))
        lead = str(rng.choice(["The value is 0.", "x = ", "So the result is ", "Answer: 1.", "", "Total: "]))
        n = int(rng.integers(80, 300))
        text = prose(rng, pools, int(rng.integers(0, 200))) + lead + (unit * n)[:n]
        add("digits", text, False, True)
    short_units = ["the ", "very, ", "no ", "ha ", "and the ", "I think ", "... ", ".", "!", "\n", "\n\n",
                   "- ", "okay okay ", "yes, yes ", "* ", "wait "]
    for _ in range(25):
        if rng.random() < 0.25:
            unit = str(rng.choice(pools.emoji)) * int(rng.integers(1, 3))
            n = int(rng.integers(70, 200))
        else:
            unit = str(rng.choice(short_units))
            n = int(rng.integers(70, 200)) * (4 if unit.strip() and len(unit) > 2 else 1)
        body = (unit * n)[:n * max(1, len(unit)) // max(1, len(unit))]
        body = (unit * 400)[: max(n, 70 * len(unit))]
        add("short", prose(rng, pools, int(rng.integers(0, 300))) + body, False, True)
    counter_templates = [
        "Step {k}: check the {w} again. ",
        "{{\"id\": \"call_{k}\", \"name\": \"{t}\", \"arguments\": {{\"q\": \"{a}\"}}}}\n",
        "Attempt {k}: retrying the {w} request. ",
        "{k}. Read the next {w} line.\n",
        "Retry #{k} - calling {t} with {a} ",
        "- Iteration {k}: the {w} is still the same.\n",
        "<|tool_call_start|>[{t}(query='{a}', page=1, request_id={k})]<|tool_call_end|>\n",
        "Day {k}: {w} review as usual. ",
    ]
    for _ in range(30):
        tpl = str(rng.choice(counter_templates))
        w, t, a = str(rng.choice(pools.words)), str(rng.choice(pools.tools)), str(rng.choice(pools.args))
        k0 = int(rng.integers(1, 120))
        limit = cap_chars(rng)
        body = "".join(tpl.format(k=k, w=w, t=t, a=a) for k in range(k0, k0 + 400))
        prefix = prose(rng, pools, int(rng.integers(0, limit // 4)))
        unit_len = len(tpl.format(k=k0, w=w, t=t, a=a))
        limit = max(limit, len(prefix) + 5 * unit_len)
        add("counter", cut_at(prefix + body, limit, bool(rng.random() < 0.4), rng), False, True)
    for _ in range(20):  # a 24-48 word sentence said twice at a short cap (periods to half the cap)
        unit = sentence(rng, pools, int(rng.integers(26, 48))) + " "
        prefix = sentence(rng, pools, int(rng.integers(3, 8))) + " "
        add("long", prefix + unit * 2 + unit[: int(rng.integers(0, len(unit) // 3))], False, True)  # cut anywhere
    for _ in range(25):  # sampled: a word substituted in about every other copy
        words = sentence(rng, pools, int(rng.integers(10, 30))).split()
        out = prose(rng, pools, int(rng.integers(0, 300))).split()
        for copy in range(int(rng.integers(6, 14))):
            w = list(words)
            if rng.random() < 0.5:
                w[int(rng.integers(0, len(w)))] = str(rng.choice(pools.words))
            out += w
        add("approximate", " ".join(out)[: 4 * 512], False, True)

    # ---------------------------------------------------------------- negatives
    for _ in range(25):
        add("prose", cut_at(prose(rng, pools, 2400), cap_chars(rng), bool(rng.random() < 0.5), rng), False, False)
    for _ in range(10):
        add("prose", prose(rng, pools, int(rng.integers(100, 1500))).strip(), True, False)
    for _ in range(10):
        unit = sentence(rng, pools) + " "
        add("loop_then_eos", prose(rng, pools, 100) + unit * int(rng.integers(5, 20)) + "Done.", True, False)
    for _ in range(15):
        a = int(rng.integers(2, 30))
        sep = str(rng.choice([" x ", " * ", " × "]))
        k0 = int(rng.integers(1, 5))
        text = f"Here is the table of {a}:\n" + "".join(f"{a}{sep}{k} = {a * k}\n" for k in range(k0, k0 + 200))
        add("mult_table", cut_at(text, cap_chars(rng), bool(rng.random() < 0.3), rng), False, False)
    for _ in range(15):
        d0 = int(rng.integers(0, 7))
        items = [str(rng.choice(pools.words)) for _ in range(5)]
        month = str(rng.choice(["Mar", "Apr", "May", "June"]))
        text = "Agenda:\n" + "".join(
            f"- {WEEKDAYS[(d0 + k) % 7]} {k + 1} {month}: {items[k % 5]} {rng.choice(['standup', 'review', 'sync'])}\n"
            for k in range(120))
        add("agenda", cut_at(text, cap_chars(rng), False, rng), False, False)
    for _ in range(15):
        text = "date,item,qty,price\n" + "".join(
            f"2024-03-{k % 28 + 1:02d},{rng.choice(pools.words)},{rng.integers(1, 50)},{rng.integers(1, 999)}.{rng.integers(0, 99):02d}\n"
            for k in range(150))
        add("csv", cut_at(text, cap_chars(rng), bool(rng.random() < 0.5), rng), False, False)
    for _ in range(15):
        lines = ["def process(items):", "    total = 0"]
        for k in range(60):
            v, w = str(rng.choice(pools.words)), str(rng.choice(pools.words))
            lines.append(str(rng.choice([f"    {v}_{k} = compute({w}, {rng.integers(0, 99)})",
                                         f"    if {v} > {rng.integers(0, 99)}:", f"        total += {v}_{rng.integers(0, 9)}",
                                         f"    print('{w}', total)", f"    items.append({rng.integers(0, 999)})"])))
        add("code", cut_at("\n".join(lines), cap_chars(rng), bool(rng.random() < 0.5), rng), False, False)
    for _ in range(15):
        style = int(rng.integers(0, 3))
        parts = []
        for k in range(1, 150):
            v = str(rng.choice(pools.words))
            parts.append([f"{k}. {v}\n", f"Item {k}: {v} costs {rng.integers(1, 99)} dollars.\n",
                          f"- option {k}: {v}, {rng.choice(pools.words)}\n"][style])
        add("enumeration", cut_at("".join(parts), cap_chars(rng), False, rng), False, False)
    for _ in range(10):
        k0 = int(rng.integers(0, 500))
        sep = str(rng.choice([", ", " ", "\n"]))
        add("counting", cut_at(sep.join(str(k) for k in range(k0, k0 + 600)), cap_chars(rng), False, rng), False, False)
    for _ in range(15):
        tpl = str(rng.choice(["The capital of {c} is {p}. ", "{c}: {p}\n", "- In {c}, the capital city is {p}.\n"]))
        order = rng.permutation(len(COUNTRIES))
        text = "".join(tpl.format(c=COUNTRIES[i][0], p=COUNTRIES[i][1]) for i in order)
        add("template_list", cut_at(text * 1, min(len(text), cap_chars(rng)), False, rng), False, False)
    for _ in range(10):
        s = sentence(rng, pools, int(rng.integers(5, 14))) + " "
        add("restated", prose(rng, pools, int(rng.integers(200, 1200))) + s + s, False, False)
    for _ in range(5):
        add("separator", prose(rng, pools, 300) + "\n" + str(rng.choice(["-", "=", "*"])) * int(rng.integers(10, 60)),
            False, False)
    return rows


def build_texts_fresh(seed: int) -> list[dict]:
    """Held-out rows from templates written after the rules were fixed and never tuned on
    (``template`` names each one): other shapes of the same kinds, and other lists."""
    rng = np.random.default_rng(seed)
    pools = Pools("test")
    rows: list[dict] = []

    def add(kind, template, text, finished, label):
        rows.append({"id": f"fresh-{template}-{sum(r['template'] == template for r in rows)}", "split": "test",
                     "kind": kind, "template": template, "text": text, "finished": finished, "label": label})

    def lead():
        return prose(rng, pools, int(rng.integers(0, 250)))

    for _ in range(4):
        n = int(rng.integers(30, 80))
        add("periodic", "bullet", lead() + f"- The answer is {rng.integers(2, 99)}.\n" * n, False, True)
        a, b = sentence(rng, pools), sentence(rng, pools)
        add("periodic", "alternating", lead() + f"{a} {b} " * int(rng.integers(6, 20)), False, True)
        obj = json.dumps({"name": str(rng.choice(pools.tools)), "arguments": {"q": str(rng.choice(pools.args))}})
        add("periodic", "json_object", lead() + (obj + "\n") * int(rng.integers(8, 25)), False, True)
        add("periodic", "chat_tokens", lead() + "<|im_end|>\n<|im_start|>assistant\n" * int(rng.integers(30, 60)), False, True)
    for _ in range(4):
        text = lead() + '    print("hello world")\n' * int(rng.integers(20, 50))
        add("cut", "code_cut", text[: len(text) - int(rng.integers(3, 15))], False, True)
        text = "<ul>" + f"<li>{rng.choice(pools.words)} item</li>" * int(rng.integers(15, 40))
        add("cut", "html_cut", text[: len(text) - int(rng.integers(2, 12))], False, True)
    for unit in ("0", "9", "10", "-1", "1.0", "2020"):
        add("digits", "digit_run", lead() + "The result is " + unit * int(rng.integers(100, 240) // len(unit)), False, True)
    for unit in ("?", "lol ", "🙂 ", "\t", "yes. ", "hmm... ", "\\frac{1}{2} + "):
        add("short", "short_run", lead() + unit * int(rng.integers(70, 160)), False, True)
    counters = ["Page {k} of results: nothing found. ", "Chapter {k}: The End.\n", "Trying port {k}... failed.\n",
                '{{"step": {k}, "status": "pending"}}\n', "I will check item #{k} now. ", "Round {k} - no change.\n"]
    for tpl in counters:
        k0 = int(rng.integers(2, 9000))
        add("counter", "fresh_counter", lead() + "".join(tpl.format(k=k) for k in range(k0, k0 + int(rng.integers(20, 60)))),
            False, True)
    for _ in range(6):
        unit = sentence(rng, pools, int(rng.integers(28, 50))) + " "
        add("long", "paragraph_twice", "Sure. " + unit * 2 + unit[: int(rng.integers(1, 30))], False, True)
    for _ in range(6):
        words = sentence(rng, pools, int(rng.integers(8, 25))).split()
        out = lead().split()
        for _copy in range(int(rng.integers(8, 16))):
            w = list(words)
            if rng.random() < 0.4:
                w[int(rng.integers(0, len(w)))] = str(rng.choice(pools.words))
            out += w
        add("approximate", "sampled", " ".join(out), False, True)

    # negatives
    fib = [1, 1]
    while len(fib) < 120:
        fib.append(fib[-1] + fib[-2])
    add("fibonacci", "fibonacci", "Fibonacci: " + ", ".join(map(str, fib)), False, False)
    for _ in range(3):
        add("squares", "squares", " ".join(str(k * k) for k in range(1, 200)), False, False)
        add("html_table", "html_table", "<table>" + "".join(
            f"<tr><td>{rng.choice(pools.words)}</td><td>{rng.integers(0, 999)}</td></tr>" for _ in range(60)), False, False)
        t = int(rng.integers(0, 3600))
        log = []
        for _ in range(60):
            t += int(rng.integers(1, 40))
            log.append(f"12:{t // 60 % 60:02d}:{t % 60:02d} INFO {rng.choice(pools.words)} request {rng.choice(['ok', 'slow', 'retry'])}")
        add("log_lines", "log_lines", "\n".join(log), False, False)
        verses = "".join(f"1:{k} {sentence(rng, pools)}\n" for k in range(1, 40))
        add("enumeration", "verses", verses, False, False)
        dialogue = "".join(f"{'AB'[k % 2]}: {sentence(rng, pools)}\n" for k in range(40))
        add("dialogue", "dialogue", dialogue, False, False)
        matrix = "\n".join(" ".join(str(int(x)) for x in rng.integers(0, 10, 8)) for _ in range(40))
        add("matrix", "matrix", matrix, False, False)
        refrain = "Oh the river runs away."
        poem = "".join(f"{sentence(rng, pools)}\n{sentence(rng, pools)}\n{sentence(rng, pools)}\n{refrain}\n" for _ in range(8))
        add("poem", "refrain", poem, False, False)
        weeks = "".join(f"Week {k}: {rng.choice(pools.words)} on Monday, {rng.choice(pools.words)} on Friday.\n" for k in range(1, 40))
        add("agenda", "weeks", weeks, False, False)
    return rows


# ---------------------------------------------------------------------------- episodes

def call_text(fmt: str, name: str, args: dict, call_id: int | None = None, content: str = "") -> str:
    if fmt == "pythonic":
        inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return (content + " " if content else "") + f"<|tool_call_start|>[{name}({inner})]<|tool_call_end|>"
    obj = {"name": name, "arguments": args}
    if call_id is not None:
        obj = {"id": f"call_{call_id}", **obj}
    return (content + " " if content else "") + f"<tool_call>{json.dumps(obj)}</tool_call>"


def opening(rng, pools: Pools) -> list[dict]:
    return [{"role": "system", "content": "You are a helpful assistant with tools."},
            {"role": "user", "content": sentence(rng, pools)}]


def build_episodes(split: str, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    pools = Pools(split)
    rows: list[dict] = []

    def add(kind, fmt, messages, finished, label):
        rows.append({"id": f"{split}-ep-{kind}-{sum(r['kind'] == kind for r in rows)}", "split": split, "kind": kind,
                     "format": fmt, "messages": messages, "finished": finished, "label": label})

    def fmt_pick():
        return str(rng.choice(["pythonic", "json"]))

    def args_pick():
        return {"query": str(rng.choice(pools.args)), **({"limit": int(rng.integers(1, 9))} if rng.random() < 0.5 else {})}

    for _ in range(20):  # the same call and result until the turn limit
        fmt, tool, args = fmt_pick(), str(rng.choice(pools.tools)), args_pick()
        msgs = opening(rng, pools)
        result = f"{rng.choice(pools.words)}: {rng.integers(0, 99)}"
        lead = [] if rng.random() < 0.5 else [str(rng.choice(pools.tools)), args_pick()]
        if lead:
            msgs += [{"role": "assistant", "content": call_text(fmt, lead[0], lead[1])},
                     {"role": "tool", "content": "no results"}]
        with_id = fmt == "json" and rng.random() < 0.5
        k0 = int(rng.integers(1, 40))
        for t in range(int(rng.integers(3, 8))):
            say = str(rng.choice(["", "Let me check.", "I will try again.", ""])) if rng.random() < 0.5 else ""
            msgs += [{"role": "assistant", "content": call_text(fmt, tool, args, k0 + t if with_id else None, say)},
                     {"role": "tool", "content": result}]
        add("repeated_call", fmt, msgs, False, True)
    for _ in range(10):  # two calls alternating, same results
        fmt = fmt_pick()
        a, b = (str(rng.choice(pools.tools)), args_pick()), (str(rng.choice(pools.tools)), args_pick())
        if a == b:
            b = (b[0], {"query": "other"})
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(4, 9))):
            name, args = (a, b)[t % 2]
            msgs += [{"role": "assistant", "content": call_text(fmt, name, args)},
                     {"role": "tool", "content": f"{name} says {args['query']}"}]
        add("call_cycle", fmt, msgs, False, True)
    for _ in range(15):  # the same message every turn, with whatever feedback
        fmt = fmt_pick()
        text = sentence(rng, pools) + (" " + sentence(rng, pools) if rng.random() < 0.5 else "")
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 7))):
            msgs += [{"role": "assistant", "content": text},
                     {"role": "user", "content": str(rng.choice(["Please use a tool.", "That is not an answer.",
                                                                 f"You have {6 - t} turns left."]))}]
        add("repeated_message", fmt, msgs, False, True)
    for _ in range(15):  # the last turn is a text doom loop (cut by the turn cap)
        fmt = fmt_pick()
        msgs = opening(rng, pools)
        msgs += [{"role": "assistant", "content": call_text(fmt, str(rng.choice(pools.tools)), args_pick())},
                 {"role": "tool", "content": f"{rng.choice(pools.words)} {rng.integers(0, 99)}"}]
        unit = sentence(rng, pools) + " "
        msgs.append({"role": "assistant", "content": cut_at(prose(rng, pools, 60) + unit * 12, 384 + int(rng.integers(0, 200)),
                                                            bool(rng.random() < 0.5), rng)})
        add("turn_loop", fmt, msgs, False, True)

    # ---------------------------------------------------------------- negatives
    for _ in range(15):  # same tool, new arguments every turn
        fmt, tool = fmt_pick(), str(rng.choice(pools.tools))
        msgs = opening(rng, pools)
        paging = rng.random() < 0.5
        for t in range(int(rng.integers(3, 8))):
            args = {"query": "news", "page": t + 1} if paging else {"query": str(pools.args[t % len(pools.args)])}
            msgs += [{"role": "assistant", "content": call_text(fmt, tool, args)},
                     {"role": "tool", "content": f"{rng.choice(pools.words)} {rng.integers(0, 999)}"}]
        add("progress", fmt, msgs, False, False)
    for _ in range(10):  # the same call, but the result changes: waiting on something
        fmt, tool, args = fmt_pick(), str(rng.choice(pools.tools)), args_pick()
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 7))):
            msgs += [{"role": "assistant", "content": call_text(fmt, tool, args)},
                     {"role": "tool", "content": f"status: {rng.choice(['queued', 'running'])}, {10 * t + int(rng.integers(1, 9))}% done"}]
        add("polling", fmt, msgs, False, False)
    for _ in range(15):  # retried the same call, then answered
        fmt, tool, args = fmt_pick(), str(rng.choice(pools.tools)), args_pick()
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 6))):
            msgs += [{"role": "assistant", "content": call_text(fmt, tool, args)}, {"role": "tool", "content": "timeout"}]
        msgs.append({"role": "assistant", "content": sentence(rng, pools)})
        add("retry_then_answer", fmt, msgs, True, False)
    for _ in range(10):  # the same call twice, then something else, cut by the limit
        fmt, tool, args = fmt_pick(), str(rng.choice(pools.tools)), args_pick()
        msgs = opening(rng, pools)
        msgs += [{"role": "assistant", "content": call_text(fmt, tool, args)}, {"role": "tool", "content": "error: busy"}] * 2
        msgs += [{"role": "assistant", "content": call_text(fmt, str(rng.choice(pools.tools)), {"query": "x"})},
                 {"role": "tool", "content": "ok"}]
        add("twice", fmt, msgs, False, False)
    for _ in range(15):  # a normal multi-tool episode cut by the turn limit
        fmt = fmt_pick()
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(2, 7))):
            msgs += [{"role": "assistant", "content": call_text(fmt, str(pools.tools[t % len(pools.tools)]), args_pick(),
                                                                content=sentence(rng, pools) if rng.random() < 0.4 else "")},
                     {"role": "tool", "content": f"{rng.choice(pools.words)} {rng.integers(0, 999)}"}]
        add("varied", fmt, msgs, bool(rng.random() < 0.3), False)
    return rows


def build_episodes_fresh(seed: int) -> list[dict]:
    """Held-out episodes from templates written after the rules were fixed (``template``)."""
    rng = np.random.default_rng(seed)
    pools = Pools("test")
    rows: list[dict] = []

    def add(kind, template, fmt, messages, finished, label):
        rows.append({"id": f"fresh-ep-{template}-{sum(r['template'] == template for r in rows)}", "split": "test",
                     "kind": kind, "template": template, "format": fmt, "messages": messages, "finished": finished,
                     "label": label})

    for _ in range(3):
        msgs = opening(rng, pools)
        calls = "<|tool_call_start|>[get_time(zone='UTC'), get_weather(city='Lima')]<|tool_call_end|>"
        for _t in range(int(rng.integers(3, 6))):
            msgs += [{"role": "assistant", "content": calls}, {"role": "tool", "content": "12:00"},
                     {"role": "tool", "content": "sunny"}]
        add("repeated_call", "two_calls_per_turn", "pythonic", msgs, False, True)
        msgs = opening(rng, pools)
        bad = "<tool_call>{'name': 'search', arguments: }</tool_call>"
        for _t in range(int(rng.integers(3, 6))):
            msgs += [{"role": "assistant", "content": bad},
                     {"role": "user", "content": "Error: your tool call could not be parsed."}]
        add("repeated_message", "same_malformed_call", "json", msgs, False, True)
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 7))):
            msgs += [{"role": "assistant", "content": call_text("json", "lookup_price", {"item": "milk"}, 40 + t,
                                                                content=f"Attempt {t + 1}.")},
                     {"role": "tool", "content": "price: unknown"}]
        add("repeated_call", "numbered_attempts", "json", msgs, False, True)
        # negatives
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 7))):
            msgs += [{"role": "assistant", "content": call_text("pythonic", "read_file", {"path": f"part{t}.txt"})},
                     {"role": "tool", "content": sentence(rng, pools)}]
        add("progress", "reading_parts", "pythonic", msgs, False, False)
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 6))):
            msgs += [{"role": "assistant", "content": sentence(rng, pools) + " What do you mean?"},
                     {"role": "user", "content": sentence(rng, pools)}]
        add("varied", "clarifying", "pythonic", msgs, False, False)
        msgs = opening(rng, pools)
        for t in range(int(rng.integers(3, 6))):
            msgs += [{"role": "assistant", "content": call_text("json", "get_stock", {"symbol": "AAPL"})},
                     {"role": "tool", "content": f"AAPL {180 + rng.normal():.2f}"}]
        add("polling", "price_ticks", "json", msgs, False, False)
    return rows


def main() -> None:
    for name, build in (("texts.jsonl", build_texts), ("episodes.jsonl", build_episodes)):
        rows = build("dev", 19_001) + build("test", 19_002)
        rows += build_texts_fresh(19_003) if build is build_texts else build_episodes_fresh(19_004)
        with (HERE / name).open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"wrote {HERE / name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
