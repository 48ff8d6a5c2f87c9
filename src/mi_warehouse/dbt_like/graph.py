"""The model DAG: edges from refs (sources are leaves outside it), order, cycles, selection.

Selectors (a string of space-separated selectors, or a list of them; the union is selected):

    name        the model
    +name       the model and all its ancestors
    name+       the model and all its descendants
    +name+      both
    tag:x       every model tagged x (also +tag:x, tag:x+, +tag:x+)
"""

from __future__ import annotations

import heapq
import re
from typing import Iterable, Mapping, Sequence

from .errors import DependencyCycle, SelectorError

_SELECTOR = re.compile(r"^(?P<up>\+?)(?:tag:(?P<tag>[^\s+]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))(?P<down>\+?)$")


class Graph:
    """Models and their parents. Construction refuses cycles."""

    def __init__(self, parents: Mapping[str, Iterable[str]], origins: Mapping[str, str] | None = None,
                 tags: Mapping[str, Iterable[str]] | None = None):
        self.parents: dict[str, tuple[str, ...]] = {n: tuple(sorted(set(p))) for n, p in parents.items()}
        self.origins = dict(origins or {})
        self.tags = {n: tuple(t) for n, t in (tags or {}).items()}
        for n, ps in self.parents.items():
            for p in ps:
                if p not in self.parents:
                    raise KeyError(f"{n} depends on {p}, which is not a node")
        self.children: dict[str, tuple[str, ...]] = {n: () for n in self.parents}
        for n, ps in sorted(self.parents.items()):
            for p in ps:
                self.children[p] += (n,)
        self._check_cycles()

    # --- cycles and order -------------------------------------------------------------------
    def _check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for start in sorted(self.parents):
            if state.get(start):
                continue
            path: list[str] = [start]
            stack = [iter(self.parents[start])]
            state[start] = 1
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    cycle.reverse()  # print in build direction: parent -> child
                    shown = " -> ".join(self.origins.get(n, n) for n in cycle)
                    raise DependencyCycle(f"dependency cycle: {shown}")
                elif not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(self.parents[nxt]))

    def order(self, among: Iterable[str] | None = None) -> list[str]:
        """Topological order (parents first), ties broken by name; optionally only `among`."""
        keep = set(self.parents if among is None else among)
        waiting = {n: sum(1 for p in self.parents[n] if p in keep) for n in keep}
        ready = [n for n, k in waiting.items() if k == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            n = heapq.heappop(ready)
            out.append(n)
            for c in self.children[n]:
                if c in keep:
                    waiting[c] -= 1
                    if waiting[c] == 0:
                        heapq.heappush(ready, c)
        return out

    def _closure(self, start: str, edges: Mapping[str, tuple[str, ...]]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for m in edges[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    def ancestors(self, name: str) -> set[str]:
        return self._closure(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        return self._closure(name, self.children)

    # --- selection --------------------------------------------------------------------------
    def select(self, selectors: str | Sequence[str] | None) -> list[str]:
        """The selected models in build order; None or empty selects every model."""
        tokens = _tokens(selectors)
        if not tokens:
            return self.order()
        chosen: set[str] = set()
        for tok in tokens:
            chosen |= self._one(tok)
        return self.order(chosen)

    def _one(self, tok: str) -> set[str]:
        m = _SELECTOR.match(tok)
        if not m:
            raise SelectorError(f"select: {tok!r} is not a selector (name, +name, name+, tag:x)")
        if m.group("tag") is not None:
            roots = {n for n, t in self.tags.items() if m.group("tag") in t}
            if not roots:
                raise SelectorError(f"select: {tok!r}: no model is tagged {m.group('tag')}")
        else:
            if m.group("name") not in self.parents:
                raise SelectorError(f"select: {tok!r}: no model named {m.group('name')}")
            roots = {m.group("name")}
        out = set(roots)
        for r in roots:
            if m.group("up"):
                out |= self.ancestors(r)
            if m.group("down"):
                out |= self.descendants(r)
        return out


def _tokens(selectors: str | Sequence[str] | None) -> list[str]:
    if selectors is None:
        return []
    if isinstance(selectors, str):
        selectors = [selectors]
    out: list[str] = []
    for s in selectors:
        if not isinstance(s, str):
            raise SelectorError(f"select: {s!r} is not a selector string")
        out.extend(s.split())
    return out
