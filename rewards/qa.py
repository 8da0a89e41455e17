"""Short-answer QA rewards: SQuAD-normalized exact match and token F1 against alias lists.

Normalization (the SQuAD v1.1 evaluation script)::

    normalize(s) = collapse_whitespace(remove_articles(remove_punctuation(lower(s))))

with articles ``a an the`` and punctuation ``string.punctuation``. Then, over the gold aliases::

    exact_match(pred, aliases) = max_a [normalize(pred) == normalize(a)]
    token_f1(pred, aliases)    = max_a 2 * P * R / (P + R)

where ``P`` and ``R`` are the shares of common tokens (with multiplicity) in the prediction and
in the alias; two empty token lists score 1, one empty list scores 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

from lfmgym.rewards.math import marked_answers, strip_tool_calls

__all__ = ["normalize_answer", "exact_match", "token_f1", "extract_qa_answer", "QAReward", "MAX_PREDICTION_CHARS"]

MAX_PREDICTION_CHARS = 65_536  # a longer "answer" is a huge-output attack, not an answer
_PUNCT = set(string.punctuation)
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: Any) -> str:
    """SQuAD normalization: lower case, drop punctuation and articles, collapse whitespace."""
    s = "" if s is None else str(s)
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    s = _ARTICLES_RE.sub(" ", s)
    return " ".join(s.split())


def _aliases(aliases: Any) -> list[str]:
    if aliases is None:
        return []
    if isinstance(aliases, str):
        return [aliases]
    return [str(a) for a in aliases if a is not None]


def _prediction(pred: Any) -> str | None:
    text = "" if pred is None else str(pred)
    return None if len(text) > MAX_PREDICTION_CHARS else text


def exact_match(pred: Any, aliases: Any) -> float:
    """1.0 if the normalized prediction equals any normalized alias, else 0.0."""
    text = _prediction(pred)
    if text is None:
        return 0.0
    norm = normalize_answer(text)
    return float(any(norm == normalize_answer(a) for a in _aliases(aliases)))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(pred: Any, aliases: Any) -> float:
    """Best SQuAD token F1 of the prediction over the aliases (0.0 for no aliases)."""
    text = _prediction(pred)
    if text is None:
        return 0.0
    pred_tokens = normalize_answer(text).split()
    return max((_f1(pred_tokens, normalize_answer(a).split()) for a in _aliases(aliases)), default=0.0)


def extract_qa_answer(text: Any) -> str:
    """The answer part of a final message.

    The last ``\\boxed{}``, else the last "Answer: ..." clause, else the whole text. Several
    boxes or answer clauses that disagree (after normalization) are hedging: the answer is then
    ``""``. Tool-call markup is never part of the answer; a text over
    :data:`MAX_PREDICTION_CHARS` has no answer.
    """
    text = "" if text is None else str(text)
    if len(text) > MAX_PREDICTION_CHARS:
        return ""
    text = strip_tool_calls(text)
    boxed = [a for m, a in marked_answers(text) if m == "boxed"]
    clauses = [c.strip().rstrip(".").strip()
               for c in re.findall(r"\b(?:final\s+)?answer\s*(?:is\b\s*[:\-]?|:)[ \t]*([^\n]+)", text, flags=re.I)]
    for found in (boxed, clauses):
        if found:
            if len({normalize_answer(a) for a in found}) > 1:
                return ""
            return found[-1]
    return text.strip()


class QAReward:
    """Reward callable: token F1 (``metric="f1"``) or exact match (``metric="em"``) of the
    completion's answer against the task's aliases.

    Aliases come from ``meta["aliases"]`` when present, else ``answer`` (a string or a list).
    With ``extract=True`` the answer is :func:`extract_qa_answer` of the completion. Picklable.
    """

    def __init__(self, metric: str = "f1", extract: bool = True):
        if metric not in ("f1", "em"):
            raise ValueError(f"metric must be 'f1' or 'em', got {metric!r}")
        self.metric, self.extract = metric, bool(extract)
        self.__name__ = f"qa_{metric}"

    def __call__(self, completion: str = "", answer: Any = None, meta: dict | None = None, **fields: Any) -> float:
        aliases = (meta or {}).get("aliases") or answer
        if completion is not None and len(str(completion)) > MAX_PREDICTION_CHARS:
            return 0.0
        pred = extract_qa_answer(completion) if self.extract else completion
        return token_f1(pred, aliases) if self.metric == "f1" else exact_match(pred, aliases)
