"""The rollout engine: every consumer's way to play episodes (eval, DPO sampling, GRPO).

Generation is batched; env steps run off the generation loop. The loop, in one thread:

1. start episodes (``env.reset`` in a worker) until ``max_live`` are live;
2. take every episode whose last step is done, up to ``batch_size``, and generate one turn for
   all of them in one call;
3. hand each new turn to a worker thread (``env.step`` + nothing else), and go back to 2 as soon
   as any step is done: an episode whose tool answered in 50 ms joins the next generation batch
   while another's 500 ms search is still running.

Why threads: env steps are tool calls, sandbox round-trips, HTTP searches and judges — they wait
on I/O or on child processes and release the GIL; threads need no pickling of envs (which hold
sandboxes and sockets) and no event loop inside user code, where asyncio would make every env
author write ``async def step``. Generation stays in the engine's thread (sub-model calls from a
worker take the generator's lock).

Budgets (each ends an episode as truncated, with the reason in ``truncation_reason``, never a
hang): ``max_step_s`` per env step, ``max_episode_s`` per episode, ``max_episode_tokens``
generated tokens per episode, ``max_completion_tokens`` for generated + feedback ids (a
trainer's completion length). A step past its deadline is abandoned (its thread finishes in the
background and then closes its env); the episode scores as failed (``step_timeout`` = 1).

Sampling: row ``i``'s turn ``k`` samples from ``row_seed(seeds[i], k)``, so episodes do not depend
on which others shared their batch, on the number of processes, or on timing.

Lockstep (several processes whose generate calls are collective: ZeRO-3/FSDP ``synced_gpus``,
vLLM server gathering prompts): every round waits for all steps, every process generates for all
its episodes (finished ones with a 1-token cap, results dropped) while any process has a live
one, so all processes make the same calls with the same row counts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from lfmgym.engine.chat_tokens import TemplateNotPrefixPreserving
from lfmgym.engine.generate import Sampled, row_seed
from lfmgym.engine.record import EpisodeRecord, Turn
from lfmgym.env import Env, Task

__all__ = ["Budgets", "Sampling", "RolloutEngine", "ExtraReward"]

# Below this many tokens of room, another turn cannot say anything useful: stop and score.
MIN_TURN_TOKENS = 4


@dataclass(frozen=True)
class Budgets:
    """Limits per episode; ``None`` = unlimited."""

    max_step_s: float | None = None
    max_episode_s: float | None = None
    max_episode_tokens: int | None = None
    max_completion_tokens: int | None = None

    def __post_init__(self):
        for name in ("max_step_s", "max_episode_s", "max_episode_tokens", "max_completion_tokens"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name}: must be > 0 or None, got {v!r}")


@dataclass(frozen=True)
class Sampling:
    """Decoding of the episodes' turns; ``temperature == 0`` is greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature: must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p: must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: must be >= 1, got {self.max_new_tokens}")


@dataclass(frozen=True)
class ExtraReward:
    """A reward computed from the finished record (e.g. a token n-gram penalty), composed with
    the env's components by the same weighted sum (:class:`lfmgym.rewards.compose.WeightedSum`).
    ``fn`` sees the record with its loop verdict (``doom_loop``, ``episode_loop``, ``loop_kind``) set."""

    name: str
    fn: Callable[[EpisodeRecord], float]
    weight: float = 1.0


@dataclass
class _Live:
    index: int
    env: Env
    record: EpisodeRecord
    started: float
    ctx: list[int] | None = None        # prompt + completion ids so far (token-level policies)
    pending: Sampled | None = None      # the turn being stepped
    step_deadline: float | None = None
    step_started: float = 0.0
    done: bool = False
    text: str = ""                      # the decoded text of the turn being stepped


class RolloutEngine:
    """Plays episodes of any env with a policy.

    Args:
        policy: a token-level policy (has ``generator``: a
            :class:`~lfmgym.engine.generate.TokenGenerator`) or a text policy (``act(observations,
            tasks) -> list[Generation]``: an oracle, a junk fuzzer, an OpenAI endpoint).
        sampling: decoding (token-level policies; text policies decode themselves).
        budgets: see :class:`Budgets`.
        batch_size: most episodes in one generation call.
        max_live: most episodes open at once (default ``batch_size``).
        workers: threads for env resets and steps.
        strict_tokens: a template that rewrites history ends the episode (``template``) instead of
            re-encoding the transcript (training needs token-exact episodes; eval does not).
        extra_rewards: rewards added to the env's components (see :class:`ExtraReward`).
        env_weight: scales the env's own weights in the episode's total (a trainer's knob); success
            and the env's ``reward_weights`` are untouched, so eval and training judge alike.
        sub_model: give envs with ``set_sub_model`` the policy itself as their sub-model.
        lockstep: ``f(local_live) -> global_live`` across processes (see the module docstring).
        on_done: called with each record as its episode ends (progress, streaming to disk).
        coalesce_s: the least time a generation call waits for running steps before it starts with
            fewer rows than ``batch_size``; it waits up to the last call's duration (a call costs
            about the same for 1 row as for many, so a row left out costs about one more call).
    """

    def __init__(self, policy: Any, *, sampling: Sampling | None = None, budgets: Budgets | None = None,
                 batch_size: int = 64, max_live: int | None = None, workers: int = 16,
                 strict_tokens: bool = False, extra_rewards: Sequence[ExtraReward] = (), env_weight: float = 1.0,
                 sub_model: bool = True, lockstep: Callable[[int], int] | None = None,
                 on_done: Callable[[EpisodeRecord], None] | None = None, coalesce_s: float = 0.05):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if workers < 1:
            raise ValueError(f"workers: must be >= 1, got {workers}")
        self.policy = policy
        self.generator = getattr(policy, "generator", None)
        self.sampling = sampling or Sampling(
            temperature=getattr(policy, "temperature", 0.0), top_p=getattr(policy, "top_p", 1.0),
            max_new_tokens=getattr(policy, "max_new_tokens", 256))
        self.budgets = budgets or Budgets()
        self.batch_size = int(batch_size)
        self.max_live = int(max_live or batch_size)
        self.workers = int(workers)
        self.strict_tokens = strict_tokens
        self.extra_rewards = list(extra_rewards)
        self.env_weight = float(env_weight)
        self.sub_model = sub_model
        self.lockstep = lockstep
        self.on_done = on_done
        self.coalesce_s = float(coalesce_s)
        self.stats = {"generate_calls": 0, "rows": 0, "steps": 0, "generate_s": 0.0}

    def play(self, env_factory: Callable[[], Env] | Sequence[Callable[[], Env]], tasks: Sequence[Task],
             seeds: Sequence[int]) -> list[EpisodeRecord]:
        """One episode per task (``seeds[i]`` seeds task ``i``'s reset and sampling); records in task order.

        ``env_factory`` makes a fresh env per episode: one callable for all, or one per task (a
        mixture of envs, as GRPO trains on).
        """
        tasks, seeds = list(tasks), [int(s) for s in seeds]
        if len(tasks) != len(seeds):
            raise ValueError(f"seeds: expected one per task ({len(tasks)}), got {len(seeds)}")
        run = _Run(self, env_factory, tasks, seeds)
        try:
            run.loop()
        finally:
            run.shutdown()
        return run.records  # type: ignore[return-value]

    def _score(self, rec: EpisodeRecord, env: Env) -> None:
        """The loop verdict, then extra rewards (they may read it), the total (one weighted sum), success."""
        from lfmgym.engine.verdicts import episode_loop

        rec.doom_loop, rec.episode_loop, rec.loop_kind = episode_loop(rec)
        weights = {k: w * self.env_weight for k, w in env.reward_weights.items()}
        for extra in self.extra_rewards:
            rec.components[extra.name] = float(extra.fn(rec))
            weights[extra.name] = extra.weight
        rec.reward = env.total_reward(rec.components, weights=weights)
        rec.success = bool(env.success(rec.components))


class _Run:
    """The state of one :meth:`RolloutEngine.play` call."""

    def __init__(self, engine: RolloutEngine, env_factory, tasks: list[Task], seeds: list[int]):
        self.e = engine
        self.env_factory, self.tasks, self.seeds = env_factory, tasks, seeds
        self.records: list[EpisodeRecord | None] = [None] * len(tasks)
        self.todo = deque(range(len(tasks)))
        self.states: dict[int, _Live] = {}      # every started episode (done ones stay, for lockstep)
        self.ready: deque[int] = deque()          # live episodes waiting for their next turn
        self.futures: dict[Future, tuple[str, int]] = {}
        self.pool = ThreadPoolExecutor(max_workers=engine.workers, thread_name_prefix="lfmgym-env")
        self.last_generate_s = 0.0

    # ------------------------------------------------------------------ the loop

    def live(self) -> list[_Live]:
        return [st for st in self.states.values() if not st.done]

    def loop(self) -> None:
        e = self.e
        lockstep = e.lockstep is not None
        max_live = len(self.tasks) if lockstep else e.max_live
        while True:
            starting = sum(1 for k, _ in self.futures.values() if k == "reset")
            while self.todo and len(self.live()) + starting < max_live:
                i = self.todo.popleft()
                self.futures[self.pool.submit(self._reset, i)] = ("reset", i)
                starting += 1
            if lockstep:
                while self.futures:
                    self.harvest(block=True)
                if e.lockstep(len(self.ready)) == 0:
                    break
                self.generate_round(lockstep=True)
                continue
            self.harvest(block=False)
            if self.ready and len(self.ready) < e.batch_size and self._stepping():
                # A generation call costs about the same for 1 row as for many, so a row left out
                # costs about one more call: wait for running steps up to one call's time (the last
                # call's, at least coalesce_s), for episodes still starting up to 10 s. A step slower
                # than a call is left for a later batch. (A 2 s cap here split a turn of ~12 s CPU calls
                # into two calls: 5 calls instead of 4 in benchmarks/bench_rollout.py.)
                now = time.perf_counter()
                window = max(e.coalesce_s, self.last_generate_s)
                deadline = now + window
                while len(self.ready) < e.batch_size and self._stepping():
                    starting = any(k == "reset" and not f.done() for f, (k, _) in self.futures.items())
                    limit = max(deadline, now + 10.0) if starting else deadline
                    if time.perf_counter() >= limit:
                        break
                    wait(list(self.futures), timeout=max(0.0, limit - time.perf_counter()), return_when=FIRST_COMPLETED)
                    self.harvest(block=False)
            if self.ready:
                self.generate_round(lockstep=False)
            elif self.futures:
                self.harvest(block=True)
            elif not self.todo:
                break

    def _stepping(self) -> bool:
        return any(not f.done() for f in self.futures)

    def shutdown(self) -> None:
        for st in self.live():  # an exception left episodes open: close them now
            self._close_env(st)
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ episode start / end

    def _reset(self, i: int) -> _Live:
        e = self.e
        factory = self.env_factory[i] if isinstance(self.env_factory, (list, tuple)) else self.env_factory
        env = factory()
        if e.sub_model and hasattr(env, "set_sub_model") and getattr(env, "sub_model", None) is None:
            # Recursive envs call a sub-model: the policy itself, or what the policy names for it
            # (an oracle policy hands the env's oracle sub-model).
            if hasattr(e.policy, "sub_model_for"):
                sub = e.policy.sub_model_for(env)
                if sub is not None:
                    env.set_sub_model(sub)
            elif hasattr(e.policy, "chat"):
                env.set_sub_model(e.policy.chat)
        t0 = time.perf_counter()
        obs, _info = env.reset(seed=self.seeds[i], options={"task": self.tasks[i]})
        record = EpisodeRecord(env_name=env.name, task=self.tasks[i], messages=obs, seed=self.seeds[i])
        st = _Live(index=i, env=env, record=record, started=t0)
        if e.generator is not None:
            st.ctx = e.generator.codec.encode_prompt(obs)
            record.prompt_ids = list(st.ctx)
        return st

    def end(self, st: _Live, reason: str | None, components: dict[str, float] | None = None,
            terminated: bool = False) -> None:
        """Finish an episode: score it, record it, close its env (after a running step returns)."""
        env, rec = st.env, st.record
        if reason in ("step_timeout", "episode_timeout") and st.pending is not None:
            # The step is still running and owns the episode: score it as a failure.
            components = {k: 0.0 for k in env.reward_weights if k != "repetition"} | {
                "step_timeout": 1.0, "turns": float(len(rec.turns) + 1)}
            rec.info["timed_out_step_s"] = round(time.perf_counter() - st.step_started, 3)
            self._append_turn(st, [])
        elif components is None:  # the engine cut the episode: score it as the env scores a truncated one
            try:
                components = env.reward_components(env.episode)
            except Exception as exc:  # noqa: BLE001 - a scorer bug must not stop the run
                components = {"score_error": 1.0}
                rec.info["score_error"] = f"{type(exc).__name__}: {exc}"
        rec.components = dict(components)
        rec.terminated, rec.truncated = terminated, not terminated
        rec.truncation_reason = None if terminated else (reason or "max_turns")
        self.e._score(rec, env)
        rec.wall_s = time.perf_counter() - st.started
        st.done = True
        self.records[st.index] = rec
        self._close_env(st)
        if self.e.on_done is not None:
            self.e.on_done(rec)

    def _close_env(self, st: _Live) -> None:
        running = [f for f, (kind, i) in self.futures.items() if i == st.index and not f.done()]
        if running:  # close after the abandoned step returns, never under its feet
            running[0].add_done_callback(lambda _f, env=st.env: _safe_close(env))
        else:
            _safe_close(st.env)

    # ------------------------------------------------------------------ generation

    def _generated(self, st: _Live) -> int:
        return sum(len(t.ids or []) for t in st.record.turns)

    def _cap(self, st: _Live) -> tuple[int, str]:
        """Tokens the next turn may use, and the budget that binds when it is < 1."""
        b = self.e.budgets
        cap, reason = self.e.sampling.max_new_tokens, ""
        if b.max_episode_tokens is not None and b.max_episode_tokens - self._generated(st) < cap:
            cap, reason = b.max_episode_tokens - self._generated(st), "token_budget"
        if b.max_completion_tokens is not None and st.ctx is not None:
            room = b.max_completion_tokens - (len(st.ctx) - len(st.record.prompt_ids))
            if room < cap:
                cap, reason = room, "completion_length"
        return cap, reason

    def generate_round(self, lockstep: bool) -> None:
        e, now = self.e, time.perf_counter()
        batch: list[_Live] = []
        while self.ready and (lockstep or len(batch) < e.batch_size):
            st = self.states[self.ready.popleft()]
            if e.budgets.max_episode_s is not None and now - st.started > e.budgets.max_episode_s:
                self.end(st, "episode_timeout")
                continue
            cap, reason = self._cap(st)
            if cap < 1:
                self.end(st, reason)
                continue
            batch.append(st)
        if lockstep:
            # The same call on every process: all this process's episodes, finished ones as fillers.
            rows = [self.states[i] for i in sorted(self.states)]
            samples = self._generate(rows, fillers={st.index for st in rows} - {st.index for st in batch})
            by_index = {st.index: s for st, s in zip(rows, samples)}
            samples = [by_index[st.index] for st in batch]
        else:
            if not batch:
                return
            samples = self._generate(batch, fillers=set())
        for st, s in zip(batch, samples):
            st.pending = s
            st.step_started = time.perf_counter()
            limits = [x for x in (e.budgets.max_step_s,
                                  None if e.budgets.max_episode_s is None
                                  else e.budgets.max_episode_s - (st.step_started - st.started)) if x is not None]
            st.step_deadline = st.step_started + min(limits) if limits else None
            st.text = s.text if isinstance(s, _TextSample) else e.generator.codec.decode(s.ids)
            self.futures[self.pool.submit(st.env.step, st.text)] = ("step", st.index)
        e.stats["steps"] += len(batch)

    def _generate(self, rows: list[_Live], fillers: set[int]) -> list[Any]:
        e = self.e
        e.stats["generate_calls"] += 1
        e.stats["rows"] += len(rows) - len(fillers)
        t0 = time.perf_counter()
        try:
            return self._generate_rows(rows, fillers)
        finally:
            self.last_generate_s = time.perf_counter() - t0
            e.stats["generate_s"] += self.last_generate_s

    def _generate_rows(self, rows: list[_Live], fillers: set[int]) -> list[Any]:
        e = self.e
        if e.generator is None:  # a text policy
            gens = e.policy.act([st.record.messages for st in rows], [st.record.task for st in rows])
            if len(gens) != len(rows):
                raise RuntimeError(f"policy returned {len(gens)} generations for {len(rows)} observations")
            return [_TextSample.of(g) for g in gens]
        prompts = [st.ctx for st in rows]
        caps = [1 if st.index in fillers else self._cap(st)[0] for st in rows]
        seeds = [row_seed(st.record.seed, len(st.record.turns)) for st in rows]
        if not rows:  # lockstep with nothing here: one filler row keeps the collective calls aligned
            prompts, caps, seeds = [[e.generator.codec.pad_id]], [1], [0]
        out = e.generator.generate_ids(prompts, caps, temperature=e.sampling.temperature,
                                       top_p=e.sampling.top_p, seeds=seeds)
        return out[: len(rows)]

    # ------------------------------------------------------------------ steps

    def harvest(self, block: bool) -> None:
        if not self.futures:
            return
        if block:
            deadlines = [self.states[i].step_deadline for kind, i in self.futures.values()
                         if kind == "step" and self.states[i].step_deadline is not None and not self.states[i].done]
            timeout = max(0.0, min(deadlines) - time.perf_counter()) if deadlines else None
            wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        for fut in [f for f in self.futures if f.done()]:
            kind, i = self.futures.pop(fut)
            if kind == "reset":
                self.states[i] = fut.result()  # a broken env factory is a bug in user code: surface it
                self.ready.append(i)
                continue
            st = self.states[i]
            if not st.done:
                self._after_step(st, fut)
        now = time.perf_counter()
        for fut, (kind, i) in list(self.futures.items()):
            st = self.states.get(i)
            if kind == "step" and st is not None and not st.done and st.step_deadline is not None \
                    and now > st.step_deadline:
                b = self.e.budgets
                over = b.max_episode_s is not None and now - st.started > b.max_episode_s
                self.end(st, "episode_timeout" if over else "step_timeout")
                del self.futures[fut]

    def _append_turn(self, st: _Live, feedback_ids: list[int]) -> Turn:
        s = st.pending
        text = st.text
        if isinstance(s, _TextSample):
            turn = Turn(text=text, ids=s.ids, finished=s.finished, latency_s=s.latency_s)
        else:
            turn = Turn(text=text, ids=list(s.ids), finished=s.finished, logprobs=s.logprobs,
                        latency_s=s.latency_s, stopped_loop=s.stopped_loop, tokens_saved=s.tokens_saved)
        turn.step_s = time.perf_counter() - st.step_started
        turn.feedback_ids = list(feedback_ids)
        st.record.turns.append(turn)
        st.pending = None
        return turn

    def _after_step(self, st: _Live, fut: Future) -> None:
        obs, _reward, terminated, truncated, info = fut.result()
        rec = st.record
        rec.messages = obs
        rec.info.update({k: v for k, v in info.items() if k != "new_messages"})
        if terminated or truncated:
            self._append_turn(st, [])
            self.end(st, info.get("truncation_reason") or ("max_turns" if truncated else None),
                     info.get("reward_components"), terminated)
            return
        feedback = info.get("new_messages", [])
        ids: list[int] = []
        if st.ctx is not None:
            codec, s = self.e.generator.codec, st.pending
            try:
                ids = codec.feedback_ids(obs[: len(obs) - len(feedback)], feedback, s.finished)
            except TemplateNotPrefixPreserving as exc:
                if self.e.strict_tokens:
                    self._append_turn(st, [])
                    rec.info["template_error"] = str(exc)
                    self.end(st, "template")
                    return
                # Eval: go on from a fresh rendering of the whole transcript.
                rec.info["retokenized"] = rec.info.get("retokenized", 0) + 1
                self._append_turn(st, [])
                st.ctx = codec.encode_prompt(obs)
                self.ready.append(st.index)
                return
            st.ctx = st.ctx + list(s.ids) + ids
        self._append_turn(st, ids)
        mc = self.e.budgets.max_completion_tokens
        if mc is not None and st.ctx is not None and len(st.ctx) - len(rec.prompt_ids) + MIN_TURN_TOKENS > mc:
            self.end(st, "completion_length")
            return
        self.ready.append(st.index)


@dataclass
class _TextSample:
    text: str
    ids: list[int] | None
    finished: bool
    latency_s: float

    @classmethod
    def of(cls, g: Any) -> "_TextSample":
        if isinstance(g, str):
            return cls(g, None, True, 0.0)
        return cls(g.text, None if g.token_ids is None else list(g.token_ids), bool(g.finished),
                   float(getattr(g, "latency_s", 0.0)))


def _safe_close(env: Env) -> None:
    try:
        env.close()
    except Exception:  # noqa: BLE001 - closing must not mask the run's result
        pass
