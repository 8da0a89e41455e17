"""Math answer extraction and verification with math-verify.

Extraction (:func:`extract_math_answer`) looks, in this order of precedence, for

1. the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced;
2. the last "answer is ..." / "Answer: ..." / "final answer = ..." (to the end of its sentence);
3. the last GSM8K-style ``#### ...`` line;
4. the last number in the text (ASCII digits, ``1,234`` and ``-3.5`` style), unless the text
   looks like a list of numbers or ends with a question (see the guards below).

Text inside tool-call markup (``<|tool_call_start|>...``, ``<tool_call>...``, a bare
``[f(x=1)]`` call list) is never an answer and is removed first.

Scoring (:func:`math_reward`)::

    reward = 1  if the extracted answer is unambiguous and math_verify.verify(gold, answer)
             0  otherwise (never an exception)

Equivalent forms score 1 (``1,234``/``1234``, ``0.5``/``\\frac{1}{2}``, ``$12``, ``12 dollars``,
``x = 3``/``3``; ``50\\%``/``0.5`` only with ``allow_percent``). The guards that make it hard to
game, each reported in ``reason`` when it zeroes the reward:

* ``too_long``: completions over ``max_chars`` (a huge output is not an answer);
* ``ambiguous``: marked answers (boxed / answer-is / ####) that disagree with each other --
  several ``\\boxed{}`` with different values earn nothing;
* ``number_list`` / ``question``: the last-number fallback refuses text that is mostly numbers
  (candidate stuffing, the question's numbers listed), a last number that shares its sentence
  with other numbers (unless it follows ``=``), and text that ends with a question;
* ``copied_prompt``: the fallback refuses a completion that contains the prompt (when given);
* ``non_ascii_digits``: look-alike or non-ASCII digits (``４２``, ``٤٢``) do not count as numbers;
* the answer span is parsed as one LaTeX expression, so ``40, 41, 42`` is a set, not 42.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

from lfmgym.rewards.deadline import DeadlineExceeded, call_with_deadline

__all__ = [
    "MAX_COMPLETION_CHARS",
    "MAX_ANSWER_CHARS",
    "extract_math_answer",
    "marked_answers",
    "math_reward",
    "strip_tool_calls",
    "MathReward",
]

MAX_COMPLETION_CHARS = 65_536  # ~16k tokens: far beyond any honest solution of our tasks
MAX_ANSWER_CHARS = 256  # a final answer is short; longer spans are not parsed
MAX_CANDIDATES = 16  # more distinct marked answers than this is stuffing
TIMEOUT_S = 2  # math-verify's own (signal-based) timeout for parsing and for comparing
# Off the main thread the check runs in a helper process killed after this long (rewards.deadline).
DEADLINE_S = 3 * TIMEOUT_S

# Every pattern here is linear-time: model text is adversarial, so no nested quantifiers.
_TOOL_BLOCK_RES = [
    re.compile(r"<\|tool_call_start\|>.*?(?:<\|tool_call_end\|>|$)", re.S),
    re.compile(r"<tool_call>.*?(?:</tool_call>|$)", re.S),
    # a JSON call object, e.g. {"name": "f", "arguments": {"x": 42}}
    re.compile(r'\{\s*"name"\s*:\s*"[^"]*"\s*,\s*"(?:arguments|parameters)"\s*:\s*\{[^{}]*\}\s*\}'),
]
_CALL_LIST_OPEN_RE = re.compile(r"\[\s*[A-Za-z_][\w.]*\s*\(")  # "[f(" opens a bare call list
_SQUARE_RE = re.compile(r"[\[\]]")
_BRACE_RE = re.compile(r"[{}]")
MAX_BOXES = 64  # more boxes than this is stuffing; only the last ones are read
MAX_BOX_CHARS = 4 * MAX_ANSWER_CHARS
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)|\\boxed\s+([^\s${}]+)")
_ANSWER_IS_RE = re.compile(r"\b(?:final\s+)?answer\s*(?:is\b\s*[:\-]?|:|=)[ \t]*([^\n]+)", re.I)
_GSM8K_RE = re.compile(r"####[ \t]*([^\n]+)")
_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_.])-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?![0-9])")
_THOUSANDS_RE = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")
# "12 dollars", "3.5 hours": a number followed only by words. One flat character class for the
# words (no nested quantifier): `(?:[A-Za-z]+\.?\s*)+` backtracks exponentially on long word runs
# such as a sampled "Answer: 670 is cancelled.To usesog ...", which hung a GRPO step.
_TRAILING_WORDS_RE = re.compile(r"^(.*?[0-9%}])\s*[A-Za-z][A-Za-z.\s]*$")
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)|\n")
_OPERATION_RE = re.compile(r"[0-9)]\s*[-+*/×÷^x]\s*[0-9(]")


def _strip_call_lists(text: str) -> str:
    """Remove bare pythonic call lists (``[submit(answer=42)]``) with one pass over the brackets."""
    if "[" not in text or "(" not in text:
        return text
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    for m in _SQUARE_RE.finditer(text):
        if m.group() == "[":
            stack.append(m.start())
        elif stack:
            start = stack.pop()
            if _CALL_LIST_OPEN_RE.match(text, start):
                while spans and spans[-1][0] >= start:  # an inner list of an outer call list
                    spans.pop()
                spans.append((start, m.end()))
    if not spans:
        return text
    parts, pos = [], 0
    for start, end in spans:
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return " ".join(parts)


def strip_tool_calls(text: str) -> str:
    """``text`` without tool-call markup (both wire formats, bare call lists, JSON call objects)."""
    for rx in _TOOL_BLOCK_RES:
        text = rx.sub(" ", text)
    return _strip_call_lists(text)


def _balanced(text: str, open_at: int) -> str | None:
    """Content of the brace group opening at ``text[open_at] == '{'``; None if unclosed within
    :data:`MAX_BOX_CHARS` (a longer box is not an answer)."""
    depth = 0
    stop = min(len(text), open_at + MAX_BOX_CHARS)
    for m in _BRACE_RE.finditer(text, open_at, stop):
        if m.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : m.start()]
    return None


_CLAUSE_END_RE = re.compile(r"[,;]\s+(?=i\.e\.|e\.g\.|[a-z]{2,}\b(?!\s*=))")


def _clip_sentence(span: str) -> str:
    """The span up to its first sentence end (a period followed by space/end, not ``3.5``) or the
    start of an explanation (``18, since ...``, ``0.5, i.e. ...``)."""
    m = _CLAUSE_END_RE.search(span)
    if m:
        span = span[: m.start()]
    m = re.match(r"(.*?)(?:\.(?=\s|$)|$)", span)
    return (m.group(1) if m else span).strip()


def _looks_mathy(span: str) -> bool:
    return bool(re.search(r"[0-9$\\]", span))


def marked_answers(text: str) -> list[tuple[str, str]]:
    """Every explicitly marked answer as ``(method, answer)``, in text order within each method.

    ``method`` is ``"boxed"``, ``"answer_is"`` or ``"gsm8k"``. Empty boxes and "answer is" clauses
    with no digit, ``$`` or LaTeX (prose like "the answer is not obvious") are skipped.
    """
    out: list[tuple[str, str]] = []
    for m in list(_BOXED_RE.finditer(text))[-MAX_BOXES:]:
        content = _balanced(text, m.start(1)) if m.group(1) else m.group(2)
        if content is not None and content.strip():
            out.append(("boxed", content.strip()))
    for m in _ANSWER_IS_RE.finditer(text):
        span = _clip_sentence(m.group(1)).strip(" *_`")
        if span and _looks_mathy(span):
            out.append(("answer_is", span))
    for m in _GSM8K_RE.finditer(text):
        span = m.group(1).strip().rstrip(".").strip()
        if span:
            out.append(("gsm8k", span))
    return out


def _words(s: str) -> str:
    return " ".join(s.lower().split())


def _is_computed(prefix: str) -> bool:
    """``prefix`` (the sentence before a number) ends ``<computation> =``, as in ``5 + 3 = 8``."""
    p = prefix.rstrip().rstrip("$").rstrip()
    if not p.endswith("="):
        return False
    lhs = p[:-1].rsplit("=", 1)[-1]
    return bool(_OPERATION_RE.search(lhs))


def _fallback_number(text: str, prompt: str | None = None) -> tuple[str | None, str | None]:
    """The last number, or ``(None, reason)`` when the text looks like a list or a question."""
    numbers = list(_NUMBER_RE.finditer(text))
    if not numbers:
        return None, "no_answer"
    stripped = text.strip()
    if stripped.endswith("?"):
        return None, "question"
    last = numbers[-1]
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(text, 0, last.start())]
    start = ends[-1] if ends else 0
    computed = _is_computed(text[start : last.start()])
    words = stripped.split()
    numeric_words = sum(1 for w in words if re.search(r"[0-9]", w))
    # Mostly numbers (one per line, comma lists, the question's numbers) is a list, not an answer;
    # a computation ending in "= 36" is the exception.
    if numeric_words >= 2 and numeric_words / len(words) > 0.5 and not computed:
        return None, "number_list"
    if prompt and len(prompt.strip()) >= 8 and _words(prompt) in _words(text):
        return None, "copied_prompt"
    nxt = _SENTENCE_END_RE.search(text, last.end())
    stop = nxt.start() if nxt else len(text)
    in_sentence = sum(1 for m in numbers if start <= m.start() and m.end() <= stop)
    if in_sentence > 1 and not computed:
        return None, "number_list"
    return last.group(0), None


def extract_math_answer(text: str) -> tuple[str | None, str]:
    """The final answer span and how it was found.

    Returns:
        ``(answer, method)`` with method ``"boxed"`` > ``"answer_is"`` > ``"gsm8k"`` >
        ``"last_number"`` (precedence order), or ``(None, "none")``.
    """
    if not isinstance(text, str) or not text:
        return None, "none"
    text = strip_tool_calls(text[: MAX_COMPLETION_CHARS * 2])
    marked = marked_answers(text)
    for method in ("boxed", "answer_is", "gsm8k"):
        spans = [a for m, a in marked if m == method]
        if spans:
            return spans[-1], method
    number, _ = _fallback_number(text)
    return (number, "last_number") if number is not None else (None, "none")


# ----------------------------------------------------------------------------- verification


def _has_foreign_digits(span: str) -> bool:
    return any(c.isdigit() and not ("0" <= c <= "9") for c in span)


def _normalize_span(span: str, allow_percent: bool) -> str:
    """Make an answer span parseable as one LaTeX expression, without changing its value."""
    s = span.strip()
    inner = [m for m in _BOXED_RE.finditer(s)]
    if inner:  # "answer is \boxed{5}" -> 5
        m = inner[-1]
        s = (_balanced(s, m.start(1)) if m.group(1) else m.group(2)) or s
    s = s.strip().strip("*_`").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            s = s[len(left) : -len(right)].strip()
    s = s.rstrip(".,;:!").strip()
    s = s.replace("\\$", "").replace("$", "").replace("\u2212", "-")
    s = _THOUSANDS_RE.sub("", s).replace("{,}", "")
    m = _TRAILING_WORDS_RE.match(s)
    if m and re.search(r"[0-9]", m.group(1)):  # "12 dollars", "3.5 hours"
        s = m.group(1)
    if not allow_percent:  # "25%" is the number 25, not 0.25
        s = s.replace("\\%", "").replace("%", "").strip()
    return s.strip()


def _timeout() -> int | None:
    # math-verify's timeout uses SIGALRM, which only works in the main thread.
    return TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _parse(span: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    parsed = parse(f"${span}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=_timeout())
    if parsed:
        return parsed
    if _NUMBER_RE.fullmatch(span):  # plain numbers LaTeX could not read
        return parse(span, extraction_config=[ExprExtractionConfig()], parsing_timeout=_timeout())
    return []


def _equal(gold_parsed: list, pred_parsed: list) -> bool:
    from math_verify import verify

    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=_timeout()))


def _verdict(pred_span: str, others: list[str], gold_span: str, allow_percent: bool) -> tuple[bool, str | None]:
    """(correct, reason it is not) for a normalized answer, the other marked answers and the gold."""
    pred = _parse(pred_span)
    if not pred:
        return False, "unparseable"
    # Every marked answer must agree with the chosen one: no hedging across several boxes.
    if len(others) >= MAX_CANDIDATES:
        return False, "ambiguous"
    for other in others:
        if _has_foreign_digits(other) or len(other) > MAX_ANSWER_CHARS or not _equal(pred, _parse(other)):
            return False, "ambiguous"
    gold_parsed = _parse(gold_span) if len(gold_span) <= MAX_ANSWER_CHARS * 4 else []
    if gold_parsed:
        ok = _equal(gold_parsed, pred)
        if not ok and allow_percent and "%" not in gold_span:
            # the gold is the percent value (25) and the answer its fraction (0.25)
            ok = _equal(_parse(gold_span + "\\%"), pred)
    else:  # a gold math-verify cannot read: exact comparison of the normalized strings
        ok = _squash(gold_span) == _squash(pred_span) and bool(gold_span)
    return ok, None if ok else "wrong"


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", s)).lower()


def math_reward(
    completion: str,
    gold: str,
    *,
    allow_percent: bool = False,
    prompt: str | None = None,
    max_chars: int = MAX_COMPLETION_CHARS,
) -> dict[str, Any]:
    """Score a completion against the gold answer with math-verify.

    Args:
        completion: the model's final text (any string; non-strings are converted).
        gold: the reference answer (``"18"``, ``"\\frac{1}{2}"``, ``"1,234"`` ...).
        allow_percent: the task accepts a percent for its fraction (``50\\%`` = ``0.5``, and
            ``50\\%`` = ``50``). Without it ``25%`` is read as the number 25.
        prompt: the question; when given, a fallback answer from a completion that copies it
            back is refused.
        max_chars: completions longer than this score 0 (``reason="too_long"``).

    Returns:
        ``{"reward": 0.0 | 1.0, "answer_extracted": bool, "extracted": str | None,
        "method": str, "reason": str | None}`` -- ``reason`` says why the reward is 0.
    """
    out: dict[str, Any] = {"reward": 0.0, "answer_extracted": False, "extracted": None, "method": "none", "reason": None}
    try:
        text = completion if isinstance(completion, str) else ("" if completion is None else str(completion))
        if len(text) > max_chars:
            out["reason"] = "too_long"
            return out
        text = strip_tool_calls(text)
        marked = marked_answers(text)
        answer, method, reason = None, "none", None
        for m in ("boxed", "answer_is", "gsm8k"):
            spans = [a for mm, a in marked if mm == m]
            if spans:
                answer, method = spans[-1], m
                break
        if answer is None:
            answer, reason = _fallback_number(text, prompt)
            method = "last_number" if answer is not None else "none"
        if answer is None:
            out["reason"] = reason
            return out
        out.update(answer_extracted=True, extracted=answer, method=method)
        if len(answer) > MAX_ANSWER_CHARS:
            out["reason"] = "answer_too_long"
            return out
        if _has_foreign_digits(answer):
            out["reason"] = "non_ascii_digits"
            return out
        pred_span = _normalize_span(answer, allow_percent)
        others = sorted({_normalize_span(a, allow_percent) for _, a in marked} - {pred_span})
        gold_span = _normalize_span("" if gold is None else str(gold), allow_percent=True)
        if threading.current_thread() is threading.main_thread():
            ok, reason = _verdict(pred_span, others, gold_span, allow_percent)
        else:  # math-verify's own timeout is SIGALRM, main thread only: a helper process instead
            try:
                ok, reason = call_with_deadline(_verdict, pred_span, others, gold_span, allow_percent,
                                                timeout=DEADLINE_S, preload=("math_verify",))
            except DeadlineExceeded:
                ok, reason = False, "timeout"
        out["reward"] = 1.0 if ok else 0.0
        out["reason"] = reason
        return out
    except Exception as exc:  # math-verify or sympy blew up on junk: score 0, never raise
        out["reward"] = 0.0
        out["reason"] = f"error: {type(exc).__name__}"
        return out


class MathReward:
    """Reward callable: 1.0 when the completion's final answer equals the task's answer, else 0.

    Formula: ``math_verify.verify(gold, extract(completion))`` with the guards of
    :func:`math_reward`. Task fields: ``answer`` (the gold), optional ``prompt`` and
    ``meta["allow_percent"]``. Picklable.
    """

    def __init__(self, allow_percent: bool = False):
        self.allow_percent = bool(allow_percent)
        self.__name__ = "math"

    def __call__(self, completion: str = "", answer: Any = None, prompt: Any = None, meta: dict | None = None, **fields: Any) -> float:
        allow = self.allow_percent or bool((meta or {}).get("allow_percent", fields.get("allow_percent", False)))
        return float(math_reward(completion, "" if answer is None else str(answer), allow_percent=allow,
                                 prompt=prompt if isinstance(prompt, str) else None)["reward"])
