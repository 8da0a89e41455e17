"""``web_search``: search a corpus, read pages, answer factual questions.

By default the corpus is a generated world of fictional entities indexed with SQLite FTS5 (fully
offline, answers impossible to memorize) and the questions take 1 to 3 hops: difficulty 0 asks
one fact ("In what year was Anika Drovel born?"), 1 chains two ("... the founder of Drasket
Industries ..."), 2 chains three. Any other corpus works with QA JSONL tasks (``qa_file``), and
any registered search backend (``lfmgym_search_backends``) can replace FTS5, e.g. ``ddgs``.

Tools: ``search(query, k)`` lists ``[id] title`` with a snippet per hit; ``open(url_or_id)``
returns the page text, truncated with a marker.

Reward: ``0.5 * exact_match + 0.5 * f1`` of the final answer (``extract_qa_answer``: "Answer: X"
counts as X, hedging as nothing) against the gold aliases with SQuAD normalization
(:mod:`lfmgym.rewards.qa`). Metrics: ``searches`` made, ``gold_retrieved`` (share
of the supporting pages that a search listed or ``open`` returned), ``answered_without_search``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lfmgym.env import Env, Episode, Task
from lfmgym.envs.web_search.base import SearchError
from lfmgym.envs.web_search.qa_file import load_qa_jsonl
from lfmgym.envs.web_search.world import TEMPLATES, make_world
from lfmgym.rewards.qa import exact_match, extract_qa_answer, token_f1
from lfmgym.toolcalls import ToolCall, render_tool_calls
from lfmgym.tools import Toolbox

__all__ = ["WebSearchEnv", "SearchTools"]

SYSTEM_PROMPT = (
    "Answer the question. Use search to find the facts; search again with names you learn. "
    "Reply with only the answer."
)


class SearchTools:
    """The tools of one episode over a backend; remembers what was searched and seen.

    Args:
        backend: anything with ``search(query, k)`` and ``open(url_or_id)``.
        max_k: most results one search may return.
        open_chars: characters of a page that ``open`` shows before the truncation marker.
    """

    def __init__(self, backend: Any, *, max_k: int = 10, open_chars: int = 1500):
        self.backend = backend
        self.max_k = int(max_k)
        self.open_chars = int(open_chars)
        self.searches = 0
        self.opens = 0
        self.seen: dict[str, None] = {}  # ids and urls of pages listed or opened, in order
        self.last_hits: list[dict[str, Any]] = []

    def search(self, query: str, k: int = 3) -> str:
        """Search for pages matching the query.

        Args:
            query: keywords, e.g. a name and what you want to know.
            k: how many results to list.
        """
        if not query.strip():
            return "Error: the query is empty; search for some keywords."
        self.searches += 1
        try:
            hits = self.backend.search(query, max(1, min(int(k), self.max_k)))
        except SearchError as exc:
            self.last_hits = []
            return f"Error: {exc}"
        self.last_hits = hits
        if not hits:
            return f"No results for {query!r}."
        lines = []
        for hit in hits:
            for key in (hit.get("id"), hit.get("url")):
                if key:
                    self.seen.setdefault(str(key), None)
            head = f"[{hit['id']}] {hit['title']}"
            if hit.get("url") and hit["url"] != hit["id"]:
                head += f" ({hit['url']})"
            lines.append(head + ("\n" + hit["snippet"] if hit.get("snippet") else ""))
        return "\n".join(lines)

    def open(self, url_or_id: str) -> str:
        """Read a page from the search results.

        Args:
            url_or_id: the id in brackets (or the url) of a search result.
        """
        try:
            text = self.backend.open(url_or_id)
        except SearchError as exc:
            return f"Error: {exc}"
        self.opens += 1
        key = url_or_id.strip()
        page_id = getattr(self.backend, "page_id", None)
        self.seen.setdefault(key, None)
        if page_id is not None:
            resolved = page_id(key)
            if resolved:
                self.seen.setdefault(resolved, None)
        if len(text) > self.open_chars:
            text = text[: self.open_chars] + f"\n[truncated: {len(text) - self.open_chars} more characters]"
        return text

    def as_tools(self) -> list[tuple[str, Any]]:
        return [("search", self.search), ("open", self.open)]


class WebSearchEnv(Env):
    """Search-and-answer environment (see the module docstring).

    Args:
        backend: a registered search-backend name (``"fts5"``, ``"ddgs"``, or a plugin's), or a
            backend object.
        backend_kwargs: constructor arguments of the named backend.
        corpus: an FTS5 corpus file (``lfmgym corpus index``) instead of the generated world;
            needs ``tasks`` or ``qa_file``.
        qa_file: QA JSONL tasks (see :mod:`lfmgym.envs.web_search.qa_file`).
        world_seed: which generated world (its pages and questions).
        max_k: most results one search may return.
        open_chars: characters of a page ``open`` shows.
        **kwargs: :class:`lfmgym.Env` arguments (``tool_format``, ``max_turns``, ``difficulty``,
            ``tasks``, ``reward_weights``, ...).
    """

    name = "web_search"
    description = "Search a corpus (offline fictional world by default) and answer 1-3 hop questions"
    difficulties = (0, 1, 2)
    reward_weights = {"exact_match": 0.5, "f1": 0.5}
    reward_range = (0.0, 1.0)
    default_max_turns = 8
    tool_timeout = 30.0  # live backends go over the network: one deadline per search or open

    def __init__(
        self,
        *,
        backend: str | Any = "fts5",
        backend_kwargs: dict[str, Any] | None = None,
        corpus: str | Path | None = None,
        qa_file: str | Path | None = None,
        world_seed: int = 0,
        max_k: int = 10,
        open_chars: int = 1500,
        tasks: Sequence[Task] | None = None,
        **kwargs: Any,
    ):
        if qa_file is not None:
            if tasks is not None:
                raise ValueError("pass either tasks or qa_file, not both")
            tasks = load_qa_jsonl(qa_file)
        super().__init__(tasks=tasks, **kwargs)
        backend_kwargs = dict(backend_kwargs or {})
        if corpus is not None:
            if backend != "fts5":
                raise ValueError(f"corpus: a corpus file is for the 'fts5' backend, not {backend!r}")
            backend_kwargs["path"] = str(corpus)
        self.world_seed = int(world_seed)
        self.uses_world = backend == "fts5" and "path" not in backend_kwargs
        if not self.uses_world and self.fixed_tasks is None:
            raise ValueError(
                "generated questions are about the bundled world corpus; with another corpus or backend "
                "pass qa_file=... (QA JSONL) or tasks=[...]"
            )
        if isinstance(backend, str):
            from lfmgym.plugins import get_registry

            if self.uses_world:
                backend_kwargs["world_seed"] = self.world_seed
            backend = get_registry().get("search_backends", backend).factory(**backend_kwargs)
        elif backend_kwargs:
            raise ValueError("backend_kwargs: only used with a backend name, not a backend object")
        if not (callable(getattr(backend, "search", None)) and callable(getattr(backend, "open", None))):
            raise TypeError(f"backend: {type(backend).__name__} has no search(query, k) and open(url_or_id)")
        self.backend = backend
        self.max_k = int(max_k)
        self.open_chars = int(open_chars)
        self._session: SearchTools | None = None

    # -- tasks --------------------------------------------------------------------------------

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        if not self.uses_world:
            raise ValueError("generated tasks need the bundled world corpus (pass tasks or qa_file)")
        world = make_world(self.world_seed)
        names = [t for t, (hops, _, _) in TEMPLATES.items() if hops == difficulty + 1]
        template = names[int(rng.integers(len(names)))]
        subjects = world.subjects(template)
        q = world.question(template, subjects[int(rng.integers(len(subjects)))])
        return Task(
            id=f"ws{self.world_seed}:{q.id}",
            prompt=q.text,
            answer=q.answer,
            difficulty=difficulty,
            meta={
                "aliases": list(q.aliases),
                "gold_docs": [h.doc for h in q.hops],
                "hops": [{"query": h.query, "doc": h.doc, "evidence": h.evidence} for h in q.hops],
                "template": template,
            },
        )

    # -- episode ------------------------------------------------------------------------------

    def _new_session(self) -> SearchTools:
        return SearchTools(self.backend, max_k=self.max_k, open_chars=self.open_chars)

    def tools(self, task: Task):
        self._session = self._new_session()
        return self._session.as_tools()

    def on_reset(self, task: Task, episode: Episode) -> None:
        # reset() builds the toolbox with tools() right before this hook: keep that session.
        episode.state["search"] = self._session

    def system_prompt(self, task: Task) -> str:
        return SYSTEM_PROMPT

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        aliases = task.meta.get("aliases") or [str(task.answer)]
        # "The answer is X." and "Answer: X" count as X; hedged answers count as nothing.
        pred = extract_qa_answer(episode.final_answer or "")
        session: SearchTools | None = episode.state.get("search")
        searches = session.searches if session else 0
        components = {
            "exact_match": float(exact_match(pred, aliases)) if pred else 0.0,
            "f1": float(token_f1(pred, aliases)) if pred else 0.0,
            "searches": float(searches),
            "answered_without_search": float(episode.final_answer is not None and searches == 0),
        }
        gold = task.meta.get("gold_docs")
        if gold:
            seen = session.seen if session else {}
            components["gold_retrieved"] = sum(g in seen for g in gold) / len(gold)
        return components

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        """Search once per hop with the gold query; open the supporting page only when the
        search snippet does not already show the fact; then answer."""
        messages = self.opening(task)
        session = self._new_session()
        toolbox = Toolbox(session.as_tools())
        hops = task.meta.get("hops") or [{"query": task.prompt, "doc": None, "evidence": None}]

        def play(call: ToolCall) -> None:
            messages.append({"role": "assistant", "content": render_tool_calls([call], self.tool_format)})
            messages.append({"role": "tool", "content": toolbox.call(call).output})

        for hop in hops:
            play(ToolCall("search", {"query": hop["query"]}))
            if hop.get("doc") and not any(
                h["id"] == hop["doc"] and hop["evidence"] in (h.get("snippet") or "") for h in session.last_hits
            ):
                play(ToolCall("open", {"url_or_id": hop["doc"]}))
        messages.append({"role": "assistant", "content": str(task.answer)})
        return messages
