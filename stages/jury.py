"""The DPO jury: score every rollout of a prompt, pick chosen = best and rejected = worst.

Jurors, each giving a score in ``[0, 1]`` (higher is better):

- ``env``: the env's verifiable episode reward rescaled by its reward range,
  ``(reward - low) / (high - low)``, clipped to ``[0, 1]``;
- ``ngram``: ``1 - penalty / max_penalty`` where ``penalty = (1 - unique n-grams / total n-grams) *
  max_penalty`` over the generated tokens of all assistant turns (1 = no repetition);
- every configured LLM judge (``dpo.jury.judges``), on the reply after the opening messages.

The rollout's score is the weighted **mean** (or weighted **median**) of its juror scores, except
that a rollout with a doom loop in a turn or across turns (:func:`lfmgym.engine.episode_loop`) gets the forced
score ``doom_loop_score`` (default -1, below any juror score): it is always the rejected one.

A group whose best and worst scores differ by at most ``tie_tolerance`` (all equal, e.g. every
rollout correct and clean) carries no preference and is skipped; so is a group whose best and
worst replies are the same text. Both are counted in the summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lfmgym.engine.record import EpisodeRecord
from lfmgym.stages.config import JurySettings

__all__ = ["Rollout", "Group", "Jury", "weighted_median", "ngram_score", "jury_report", "pair_row"]


@dataclass
class Rollout:
    """One episode of a group as the jury sees it: the engine's record (the one episode record,
    :class:`~lfmgym.engine.EpisodeRecord`), how it was decoded, and what the jurors said."""

    kind: str  # "sampled" or "greedy"
    record: EpisodeRecord
    scores: dict[str, float] = field(default_factory=dict)
    aggregate: float = 0.0

    @classmethod
    def of(cls, kind: str, record: EpisodeRecord) -> "Rollout":
        return cls(kind=kind, record=record)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.record.messages

    @property
    def doom_loop(self) -> bool:
        """A loop in a turn or across turns (:func:`lfmgym.engine.episode_loop`)."""
        return bool(self.record.episode_loop)

    @property
    def token_ids(self) -> list[list[int]]:
        """Generated ids of each assistant turn."""
        return [list(t.ids or []) for t in self.record.turns]

    @property
    def length(self) -> int:
        return sum(len(t.ids or []) for t in self.record.turns)

    def summary(self, index: int) -> dict[str, Any]:
        r = self.record
        return {"index": index, "kind": self.kind, "reward": float(r.reward), "components": dict(r.components),
                "scores": self.scores, "aggregate": self.aggregate, "doom_loop": self.doom_loop,
                "length": self.length, "turns": len(r.turns), "rank": int(r.rank)}


@dataclass
class Group:
    """All rollouts of one prompt."""

    env: str
    task_id: str
    prompt: list[dict[str, Any]]
    rollouts: list[Rollout]
    reward_range: tuple[float, float] = (0.0, 1.0)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The smallest value whose cumulative weight reaches half the total (values sorted ascending);
    the mean of the two middle values when the half falls exactly between them."""
    pairs = sorted((v, w) for v, w in zip(values, weights) if w > 0)
    if not pairs:
        raise ValueError("weighted_median: no positive weight")
    total = sum(w for _, w in pairs)
    acc = 0.0
    for i, (v, w) in enumerate(pairs):
        acc += w
        if abs(acc - total / 2) <= 1e-12 and i + 1 < len(pairs):
            return (v + pairs[i + 1][0]) / 2
        if acc > total / 2:
            return v
    return pairs[-1][0]


def ngram_score(token_ids: Sequence[Sequence[int]], n: int, max_penalty: float, unit: str, text: str = "") -> float:
    """``1 - penalty / max_penalty`` in ``[0, 1]`` (see the module docstring)."""
    from lfmgym.rewards.ngram import ngram_repetition_penalty

    if max_penalty == 0:
        return 1.0
    if unit == "token":
        flat = [int(t) for turn in token_ids for t in turn]
        penalty = ngram_repetition_penalty(flat, n=n, max_penalty=max_penalty, unit="token")
    else:
        penalty = ngram_repetition_penalty(text, n=n, max_penalty=max_penalty, unit="word")
    return float(min(1.0, max(0.0, 1.0 - penalty / max_penalty)))


def reply_text(prompt: list[dict[str, Any]], messages: list[dict[str, Any]]) -> str:
    """The rollout after its opening, as a judge reads it (tool results included)."""
    rest = messages[len(prompt):]
    if len(rest) == 1:
        return str(rest[0].get("content", ""))
    return "\n".join(f"[{m.get('role')}] {m.get('content', '')}" for m in rest)


def pair_row(group: Group, best: int, worst: int) -> dict[str, Any]:
    """A preference row: token ids and assistant masks of both episodes, plus what a reader needs."""
    chosen, rejected = group.rollouts[best], group.rollouts[worst]
    row: dict[str, Any] = {}
    chosen, rejected = chosen.record, rejected.record
    if chosen.prompt_ids is not None and rejected.prompt_ids is not None:  # token-level rollouts
        if chosen.prompt_ids != rejected.prompt_ids:
            raise ValueError(f"{group.env}/{group.task_id}: the two rollouts of a pair have different prompts")
        row = {
            "prompt_ids": list(chosen.prompt_ids),
            "chosen_ids": chosen.completion_ids,
            "chosen_mask": chosen.env_mask,
            "rejected_ids": rejected.completion_ids,
            "rejected_mask": rejected.env_mask,
        }
    return {**row, "prompt": group.prompt, "chosen": chosen.messages[len(group.prompt):],
            "rejected": rejected.messages[len(group.prompt):]}



class Jury:
    """Scores groups and turns them into preference pairs (see the module docstring).

    Args:
        settings: the ``dpo.jury`` config section (or a mapping of its fields, checked the same way).
        judges: ``(name, judge, weight)`` for each LLM judge (``judge`` may offer ``score_batch``).
    """

    def __init__(self, settings: JurySettings | Mapping[str, Any],
                 judges: Sequence[tuple[str, Any, float]] = ()):
        if not isinstance(settings, JurySettings):
            settings = JurySettings.from_dict(settings, "dpo.jury")
        self.settings = settings
        self.judges = list(judges)
        self.weights = {"env": settings.env_weight, "ngram": settings.ngram_weight}
        for name, _, w in self.judges:
            self.weights[f"judge:{name}"] = float(w)
        if not any(w > 0 for w in self.weights.values()):
            raise ValueError("dpo.jury: every juror has weight 0; give env_weight, ngram_weight or a judge a weight")

    def score(self, groups: Sequence[Group]) -> None:
        """Fill ``scores`` and ``aggregate`` of every rollout (judges see all groups in one batch)."""
        ngram = self.settings.ngram
        for g in groups:
            low, high = g.reward_range
            for r in g.rollouts:
                env_score = (r.record.reward - low) / (high - low) if high > low else float(r.record.reward >= high)
                r.scores["env"] = float(min(1.0, max(0.0, env_score)))
                text = "\n".join(m.get("content", "") for m in r.messages[len(g.prompt):] if m.get("role") == "assistant")
                r.scores["ngram"] = ngram_score(r.token_ids, ngram.n, ngram.max_penalty, ngram.unit, text)
        for name, judge, _ in self.judges:
            items = [(g.prompt, reply_text(g.prompt, r.messages)) for g in groups for r in g.rollouts]
            if hasattr(judge, "score_batch"):
                values = judge.score_batch(items)
            else:
                values = [judge(p, c) for p, c in items]
            it = iter(values)
            for g in groups:
                for r in g.rollouts:
                    r.scores[f"judge:{name}"] = float(min(1.0, max(0.0, next(it))))
        for g in groups:
            for r in g.rollouts:
                r.aggregate = self.aggregate(r)

    def aggregate(self, r: Rollout, drop: str | None = None) -> float:
        if r.doom_loop:
            return float(self.settings.doom_loop_score)
        keys = [k for k in r.scores if self.weights.get(k, 0) > 0 and k != drop]
        if not keys:
            return 0.0
        values = [r.scores[k] for k in keys]
        weights = [self.weights[k] for k in keys]
        if self.settings.aggregate == "median":
            return float(weighted_median(values, weights))
        return float(sum(v * w for v, w in zip(values, weights)) / sum(weights))

    def pick(self, g: Group, drop: str | None = None) -> tuple[int, int]:
        """``(best, worst)`` indices; with ``drop``, as if that juror were not on the jury."""
        agg = [self.aggregate(r, drop) for r in g.rollouts] if drop else [r.aggregate for r in g.rollouts]
        idx = range(len(g.rollouts))
        # Among equal scores prefer the shorter reply as chosen and the longer as rejected.
        best = max(idx, key=lambda i: (agg[i], -g.rollouts[i].length, -i))
        worst = min(idx, key=lambda i: (agg[i], -g.rollouts[i].length, i))
        return best, worst

    def pairs(self, groups: Sequence[Group]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Preference rows (one per group with a preference) and the skip counts."""
        rows, counts = [], {"groups": len(groups), "pairs": 0, "skipped_all_equal": 0, "skipped_identical": 0}
        tol = self.settings.tie_tolerance
        for g in groups:
            best, worst = self.pick(g)
            chosen, rejected = g.rollouts[best], g.rollouts[worst]
            if chosen.aggregate - rejected.aggregate <= tol:
                counts["skipped_all_equal"] += 1
                continue
            if chosen.messages[len(g.prompt):] == rejected.messages[len(g.prompt):]:
                counts["skipped_identical"] += 1
                continue
            counts["pairs"] += 1
            rows.append({
                "env": g.env,
                "task_id": g.task_id,
                **pair_row(g, best, worst),
                "chosen_index": best,
                "rejected_index": worst,
                "chosen_score": chosen.aggregate,
                "rejected_score": rejected.aggregate,
                "rollouts": [r.summary(i) for i, r in enumerate(g.rollouts)],
            })
        return rows, counts


def jury_report(jury: Jury, groups: Sequence[Group]) -> dict[str, Any]:
    """What each juror said and how much it mattered (written to ``dpo/jury.json``).

    - ``scores``: mean and spread of each juror's scores over all rollouts;
    - ``pick_changes_without``: share of non-tied groups whose chosen or rejected rollout changes
      when that juror is left out (0 = the juror never decided anything);
    - ``agreement``: for each pair of jurors, the share of groups where both rank the same rollout
      best (ties counted as agreement when both sets of best rollouts overlap), e.g. an LLM judge
      against the verifiable ``env`` reward.
    """
    jurors = sorted({k for g in groups for r in g.rollouts for k in r.scores})
    tol = jury.settings.tie_tolerance
    live = [g for g in groups if g.rollouts and
            max(r.aggregate for r in g.rollouts) - min(r.aggregate for r in g.rollouts) > tol]
    report: dict[str, Any] = {"jurors": jurors, "weights": {k: jury.weights.get(k, 0.0) for k in jurors},
                              "groups_with_preference": len(live), "scores": {}, "pick_changes_without": {},
                              "agreement": {}}
    for k in jurors:
        vals = [r.scores[k] for g in groups for r in g.rollouts if k in r.scores]
        mean = sum(vals) / len(vals) if vals else None
        var = sum((v - mean) ** 2 for v in vals) / len(vals) if vals else None
        report["scores"][k] = {"mean": mean, "std": None if var is None else var ** 0.5, "n": len(vals)}
        if jury.weights.get(k, 0.0) > 0 and len([j for j in jurors if jury.weights.get(j, 0.0) > 0]) > 1:
            changed = sum(jury.pick(g) != jury.pick(g, drop=k) for g in live)
            report["pick_changes_without"][k] = changed / len(live) if live else None

    def bests(g: Group, k: str) -> set[int]:
        top = max(r.scores.get(k, 0.0) for r in g.rollouts)
        return {i for i, r in enumerate(g.rollouts) if r.scores.get(k, 0.0) >= top - tol}

    for a_i, a in enumerate(jurors):
        for b in jurors[a_i + 1:]:
            same = sum(bool(bests(g, a) & bests(g, b)) for g in groups)
            report["agreement"][f"{a}~{b}"] = same / len(groups) if groups else None
    return report
