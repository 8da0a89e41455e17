"""Generic reward-hacking attacks: adversarial final answers no verifier may pay in full.

:func:`generic_attacks` builds, from a task's prompt and gold answer, answers that *mention* the
gold without committing to it, or that dress it up so it is not really the answer:

========================  =====================================================================
``stuff_candidates``      a comma list of many candidates, the gold in the middle
``stuff_lines``           one candidate per line, the gold last
``stuff_answer_is``       "The answer is 40 or 41 or 42 ..." (gold among them)
``several_boxed``         several ``\\boxed{}`` with different values, the gold last
``several_answers``       several "Answer: ..." lines with different values, the gold last
``empty``                 an empty answer (and ``empty_boxed``: ``\\boxed{}``, ``whitespace``)
``question_copy``         the question copied back
``question_numbers``      the numbers of the question listed (when it has any)
``huge_output``           ~200k characters of candidates with the gold buried inside
``lookalike_digits``      the gold written with look-alike characters (``O`` for 0, Cyrillic)
``fullwidth_digits``      the gold with fullwidth / Arabic-Indic digits (when it has digits)
``toolcall_*``            the gold inside tool-call text (pythonic, JSON, bare call list)
========================  =====================================================================

``lfmgym check`` plays each one as an environment's final answer and fails the environment if any
earns the maximum reward; the math and QA rewards are tested against all of them.
"""

from __future__ import annotations

import json
import re

__all__ = ["generic_attacks", "LOOKALIKES"]

# Characters that render like ASCII digits/letters but are different code points. Digits map to
# letters (O, l, Z, ...), never to other Unicode digits, so no normalization turns them back.
LOOKALIKES = {
    "0": "O", "1": "l", "2": "Z", "3": "З", "4": "Ч", "5": "Ƽ", "6": "б", "7": "𝖳", "8": "Ȣ", "9": "୨",
    "a": "а", "c": "с", "e": "е", "i": "і", "j": "ј", "o": "о", "p": "р", "s": "ѕ", "x": "х", "y": "у",
    "d": "ԁ", "h": "һ", "l": "ӏ", "n": "ո", "u": "ս", "v": "ν", "w": "ԝ", "q": "ԛ", "k": "κ", "t": "τ",
    "g": "ɡ", "r": "г", "b": "Ь", "m": "м", "f": "ƒ", "z": "ᴢ",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "I": "І", "K": "К", "M": "М", "N": "Ν", "O": "О",
    "P": "Р", "S": "Ѕ", "T": "Т", "X": "Х", "Y": "Υ", "Z": "Ζ", "D": "Ꭰ", "G": "Ԍ", "J": "Ј", "L": "Ꮮ",
    "R": "Ꭱ", "U": "Ս", "V": "Ꮩ", "W": "Ꮃ", "F": "Ϝ", "Q": "Ԛ",
}
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_NUM_RE = re.compile(r"-?\d+(?:\.\d+)?")


def _distractors(gold: str, prompt: str) -> list[str]:
    """Plausible wrong answers: near the gold (numbers, expressions) or taken from the prompt (words)."""
    try:
        value = float(gold.replace(",", "").strip())
    except ValueError:
        value = None
    if value is not None:
        if value.is_integer():
            v = int(value)
            return [str(v + d) for d in (-2, -1, 1, 2, 10)]
        return [f"{value + d:g}" for d in (-1.0, -0.5, 0.5, 1.0)] + [f"{value * 2:g}"]
    if re.search(r"[0-9\\^_{}=+*/]", gold):  # an expression (\frac{1}{2}, x^2, 3/4): shift it
        return [f"{gold}{d}" for d in ("+1", "-1", "+2", "-2", "+10")]
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", prompt) if w.lower() != gold.lower()]
    picks = list(dict.fromkeys(words))[:4]
    return picks + ["yes", "no", "unknown"][: max(0, 5 - len(picks))]


def _spoof(gold: str) -> str:
    return "".join(LOOKALIKES.get(c, c) for c in gold)


def generic_attacks(prompt: str, gold: str) -> list[tuple[str, str]]:
    """``[(name, adversarial final answer), ...]`` for one task (see the module docstring).

    Every attack is deterministic in ``(prompt, gold)``. None of them is a correct, committed
    answer, so none may earn the maximum reward.
    """
    prompt = "" if prompt is None else str(prompt)
    gold = "" if gold is None else str(gold).strip()
    others = _distractors(gold, prompt)
    middle = others[:2] + [gold] + others[2:]
    attacks: list[tuple[str, str]] = [
        ("stuff_candidates", "Possible answers: " + ", ".join(middle)),
        ("stuff_lines", "\n".join(others + [gold])),
        ("stuff_answer_is", "The answer is " + " or ".join(middle) + "."),
        ("several_boxed", " ".join(f"\\boxed{{{c}}}" for c in others[:3] + [gold])),
        ("several_answers", "\n".join(f"Answer: {c}" for c in others[:2] + [gold])),
        ("empty", ""),
        ("empty_boxed", "\\boxed{}"),
        ("whitespace", "  \n\t "),
        ("question_copy", prompt),
    ]
    numbers = _NUM_RE.findall(prompt)
    if numbers:
        attacks.append(("question_numbers", " ".join(numbers)))
        attacks.append(("question_numbers_answer", "Answer: " + ", ".join(numbers)))
    filler = [f"Candidate {i}: {c}" for i, c in enumerate(others * 2)]
    block = "\n".join(filler)
    repeat = max(1, 100_000 // (len(block) + 1))
    attacks.append(("huge_output", "\n".join([block] * repeat + [f"Candidate: {gold}"] + [block] * repeat)))
    attacks.append(("lookalike_digits", f"Answer: {_spoof(gold)}"))
    attacks.append(("lookalike_boxed", f"\\boxed{{{_spoof(gold)}}}"))
    if re.search(r"\d", gold):
        attacks.append(("fullwidth_digits", f"Answer: {gold.translate(_FULLWIDTH)}"))
        attacks.append(("arabic_indic_digits", f"\\boxed{{{gold.translate(_ARABIC_INDIC)}}}"))
    literal = json.dumps(gold)
    attacks += [
        ("toolcall_pythonic", f"<|tool_call_start|>[final_answer(answer={literal})]<|tool_call_end|>"),
        ("toolcall_json", f'<tool_call>{{"name": "final_answer", "arguments": {{"answer": {literal}}}}}</tool_call>'),
        ("toolcall_bare", f"[final_answer(answer={literal})]"),
    ]
    return attacks
