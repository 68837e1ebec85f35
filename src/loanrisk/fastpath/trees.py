"""Gradient-boosted trees: imported by treelite, walked on numpy tables from its public dump.

Reading a fitted HistGradientBoostingClassifier needs scikit-learn's private tree arrays;
that is treelite's job (``treelite.sklearn.import_model``, a maintained importer that follows
scikit-learn's releases). This module reads only treelite's public ``Model.dump_as_json()``.
treelite also imports XGBoost and LightGBM models (``treelite.frontend.from_xgboost(booster)``,
``treelite.frontend.from_lightgbm(booster)``); :func:`from_treelite` compiles any such binary
model with ``<=`` or ``<`` splits, given the sources of its input columns.

Why not ``treelite.gtil.predict`` at request time (champion, 200 trees, one thread):
gtil answers one row in about 40 us (``predict_per_tree``, needed to sum in scikit-learn's
order, 31 us) where the table walk below takes 14 us, and a 10,000-row batch in 7-14 us a
row where the walk takes 4.3 (``benchmarks/fastpath.py``); ``gtil.predict`` also adds the
baseline after the trees, not first as scikit-learn does, which moves scores by up to 1e-14
(an isotonic calibrator can enlarge that). tl2cgen would need a C compiler at service start.

How: each split feature's value becomes a *slot*, a small integer that fixes the outcome of
every split on it (for a number, how many of its thresholds lie below the value, NaN last;
for a category, the declared category's position, anything else last). One table
``next[node, slot]`` gives every split's child (leaves point at themselves), so the trees are
walked all at once in ``depth`` gathers. :func:`verify` then checks the walk against the
model's public ``decision_function`` on rows built to reach every split, at its threshold.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loanrisk.fastpath.encoding import Code, Number, Source, UnsupportedError, float_of

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
ROWS_PER_CHUNK = 512
"""Rows walked together: amortises numpy's per-call cost, keeps the node arrays in cache."""
NOT_DECLARED = "\x00not declared"


@dataclass(frozen=True)
class NumberSlots:
    """slot = how many thresholds lie below the value (``<=`` splits) or at or below it
    (``<`` splits), so the split on ``thresholds[k]`` goes left exactly when slot <= k."""

    name: str
    thresholds: tuple[float, ...]
    strict: bool  # the splits are ``x < t``

    @property
    def count(self) -> int:
        return len(self.thresholds) + 2

    def row(self, value: Any) -> int:
        x = float_of(value)
        if x != x:
            return len(self.thresholds) + 1
        side = bisect.bisect_right if self.strict else bisect.bisect_left
        return side(self.thresholds, x)

    def batch(self, values: npt.NDArray[Any]) -> IndexArray:
        x = np.asarray(values, dtype=np.float64)
        array = np.array(self.thresholds, dtype=np.float64)
        slots: IndexArray = np.searchsorted(array, x, side="right" if self.strict else "left")
        slots[np.isnan(x)] = len(self.thresholds) + 1
        return slots

    def children(self, node: Mapping[str, Any], left: int, right: int) -> list[int]:
        k = self.thresholds.index(float(node["threshold"]))
        missing = left if node["default_left"] else right
        return [left if s <= k else right for s in range(len(self.thresholds) + 1)] + [missing]

    def value(self, slot: int) -> float:
        """A value in ``slot``: a threshold itself where one bounds it (where ``<=`` against
        ``<`` shows)."""
        t, n = self.thresholds, len(self.thresholds)
        if slot > n:
            return math.nan
        if self.strict:
            return t[slot - 1] if slot > 0 else math.nextafter(t[0], -math.inf)
        return t[slot] if slot < n else math.nextafter(t[-1], math.inf)


@dataclass(frozen=True)
class CategorySlots:
    """slot = the declared category's position, the last for any other value; ``codes``
    holds each slot's code as the trees see it."""

    name: str
    slot_of: Mapping[str, int]
    texts: tuple[str, ...]
    codes: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.codes)

    def row(self, value: Any) -> int:
        return self.slot_of.get(value, len(self.codes) - 1)

    def batch(self, values: npt.NDArray[Any]) -> IndexArray:
        other, get = len(self.codes) - 1, self.slot_of.get
        return np.fromiter((get(v, other) for v in values), dtype=np.intp, count=len(values))

    def children(self, node: Mapping[str, Any], left: int, right: int) -> list[int]:
        """NaN (and a negative code, as scikit-learn reads it) follows the default; a code
        in the list goes to the list's side."""
        listed, list_right = set(node["category_list"]), bool(node["category_list_right_child"])
        missing = left if node["default_left"] else right
        out = []
        for code in self.codes:
            if math.isnan(code) or code < 0:
                out.append(missing)
            else:
                out.append(right if (int(code) in listed) == list_right else left)
        return out

    def value(self, slot: int) -> str:
        return self.texts[slot]


Slots = NumberSlots | CategorySlots


@dataclass(frozen=True)
class Trees:
    """A binary tree ensemble as one transition table over all its nodes."""

    slots: tuple[Slots, ...]
    width: int
    next_flat: IndexArray  # next[node * width + slot]: the child, or the node itself for leaves
    node_base: IndexArray  # node * width
    node_slot: IndexArray  # which slot each node reads (leaves: a constant 0 slot at the end)
    value: FloatArray  # leaf values; node 0, a pseudo-tree, holds the baseline
    roots: IndexArray  # the pseudo-tree, then the trees in order
    depth: int
    walk_roots: IndexArray  # the same roots, deepest tree first (for batches)
    walk_active: tuple[int, ...]  # trees still inside at each level, in walk order
    walk_position: tuple[int, ...]  # each root's position in walk order
    kind: str = "hist_gradient_boosting"
    logit: bool = True

    def response_row(self, row: Mapping[str, Any]) -> float:
        """The raw score: each node's next node for this row (one gather over all nodes),
        then ``depth`` hops from the roots, then the leaves summed in tree order."""
        slot = [s.row(row[s.name]) for s in self.slots]
        slot.append(0)
        step = self.next_flat.take(
            self.node_base + np.array(slot, dtype=np.intp).take(self.node_slot)
        )
        node = self.roots
        for _ in range(self.depth):
            node = step.take(node)
        return float(np.cumsum(self.value.take(node))[-1])

    def response(self, columns: Mapping[str, npt.NDArray[Any]], n: int) -> FloatArray:
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, ROWS_PER_CHUNK):
            stop = min(n, start + ROWS_PER_CHUNK)
            out[start:stop] = self._walk(columns, start, stop)
        return out

    def _walk(self, columns: Mapping[str, npt.NDArray[Any]], start: int, stop: int) -> FloatArray:
        rows = stop - start
        slot = np.zeros((len(self.slots) + 1, rows), dtype=np.intp)
        for i, s in enumerate(self.slots):
            slot[i] = s.batch(columns[s.name][start:stop])
        flat, offsets = slot.ravel(), np.arange(rows, dtype=np.intp)
        node = np.repeat(self.walk_roots[:, np.newaxis], rows, axis=1)
        for active in self.walk_active:  # deepest first: only trees not yet at a leaf step
            part = node[:active]
            index = self.node_slot.take(part)
            index *= rows
            index += offsets
            part *= self.width
            part += flat.take(index)
            node[:active] = self.next_flat.take(part)
        leaf = self.value.take(node)
        raw: FloatArray = leaf[self.walk_position[0]].copy()
        for position in self.walk_position[1:]:
            raw += leaf[position]
        return raw


def _dump(model: Any) -> dict[str, Any]:
    dump: dict[str, Any] = json.loads(model.dump_as_json(pretty_print=False))
    shape = (dump.get("task_type"), dump.get("num_target"), dump.get("num_class"))
    if shape != ("kBinaryClf", 1, [1]) or dump.get("leaf_vector_shape") != [1, 1]:
        raise UnsupportedError(f"a tree model of task {shape}")
    if dump.get("postprocessor") != "sigmoid" or dump.get("sigmoid_alpha") != 1.0:
        raise UnsupportedError(f"trees whose output is {dump.get('postprocessor')}")
    if dump.get("average_tree_output") or len(dump.get("base_scores", ())) != 1:
        raise UnsupportedError("averaged trees or more than one baseline")
    return dump


def from_treelite(model: Any, sources: Sequence[Source]) -> Trees:
    """A treelite model of a binary classifier (logit output) over ``sources``, compiled."""
    dump = _dump(model)
    if dump["num_feature"] != len(sources):
        raise UnsupportedError("the trees read another number of columns than they are given")
    trees = [{int(n["node_id"]): n for n in t["nodes"]} for t in dump["trees"]]
    slots, position = _slots_of(trees, sources)
    width = max([s.count for s in slots] + [1])
    n_nodes = 1 + sum(len(t) for t in trees)
    table = np.repeat(np.arange(n_nodes, dtype=np.intp)[:, np.newaxis], width, axis=1)
    node_slot = np.full(n_nodes, len(slots), dtype=np.intp)
    value = np.zeros(n_nodes, dtype=np.float64)
    value[0] = float(dump["base_scores"][0])
    roots, depths, offset = [0], [0], 1
    for nodes in trees:
        depths.append(_depth(nodes))
        roots.append(offset)
        for i, node in nodes.items():
            if "leaf_value" in node:
                value[offset + i] = float(node["leaf_value"])
                continue
            at = position[int(node["split_feature_id"])]
            left, right = offset + int(node["left_child"]), offset + int(node["right_child"])
            children = slots[at].children(node, left, right)
            table[offset + i, : len(children)] = children
            node_slot[offset + i] = at
        offset += len(nodes)
    order = sorted(range(len(roots)), key=lambda t: -depths[t])
    walk_position = [0] * len(roots)
    for place, tree in enumerate(order):
        walk_position[tree] = place
    return Trees(
        slots=tuple(slots),
        width=width,
        next_flat=table.ravel(),
        node_base=np.arange(n_nodes, dtype=np.intp) * width,
        node_slot=node_slot,
        value=value,
        roots=np.array(roots, dtype=np.intp),
        depth=max(depths),
        walk_roots=np.array([roots[t] for t in order], dtype=np.intp),
        walk_active=tuple(sum(d > level for d in depths) for level in range(max(depths))),
        walk_position=tuple(walk_position),
    )


def _slots_of(
    trees: list[dict[int, dict[str, Any]]], sources: Sequence[Source]
) -> tuple[list[Slots], dict[int, int]]:
    """One slot rule per feature some split reads, and each such feature's position."""
    thresholds: dict[int, set[float]] = {}
    ops: dict[int, set[str]] = {}
    categorical: set[int] = set()
    for nodes in trees:
        for node in nodes.values():
            if "leaf_value" in node:
                continue
            feature = int(node["split_feature_id"])
            if node["node_type"] == "categorical_test_node":
                categorical.add(feature)
            elif node["node_type"] == "numerical_test_node":
                if math.isnan(float(node["threshold"])):
                    raise UnsupportedError("a NaN threshold")
                thresholds.setdefault(feature, set()).add(float(node["threshold"]))
                ops.setdefault(feature, set()).add(str(node["comparison_op"]))
            else:
                raise UnsupportedError(f"a split of type {node['node_type']}")
    if categorical & set(thresholds):
        raise UnsupportedError("a feature split both as a number and as a category")
    slots: list[Slots] = []
    position: dict[int, int] = {}
    for feature in sorted(categorical | set(thresholds)):
        if not 0 <= feature < len(sources):
            raise UnsupportedError(f"a split on feature {feature} of {len(sources)}")
        source = sources[feature]
        position[feature] = len(slots)
        if feature in categorical:
            if not isinstance(source, Code):
                raise UnsupportedError(f"a categorical split on {type(source).__name__}")
            texts = (*(text for text, _ in source.codes), NOT_DECLARED)
            codes = (*(code for _, code in source.codes), source.other)
            slot_of = {text: i for i, (text, _) in enumerate(source.codes)}
            slots.append(CategorySlots(source.name, slot_of, texts, codes))
        else:
            if (
                not isinstance(source, Number)
                or ops[feature] - {"<=", "<"}
                or len(ops[feature]) > 1
            ):
                raise UnsupportedError(f"numeric splits {ops[feature]} on {source}")
            ordered = tuple(sorted(thresholds[feature]))
            slots.append(NumberSlots(source.name, ordered, ops[feature] == {"<"}))
    return slots, position


def _depth(nodes: Mapping[int, Mapping[str, Any]]) -> int:
    """The tree's depth, from its links (which are also checked to form a tree)."""
    if set(nodes) != set(range(len(nodes))):
        raise UnsupportedError("tree node ids that are not 0..n-1")
    deepest, seen, stack = 0, 0, [(0, 0)]
    while stack:
        i, d = stack.pop()
        seen += 1
        if seen > len(nodes):
            raise UnsupportedError("tree links that do not form a tree")
        deepest = max(deepest, d)
        if "leaf_value" not in nodes[i]:
            for child in (int(nodes[i]["left_child"]), int(nodes[i]["right_child"])):
                if not 0 < child < len(nodes):
                    raise UnsupportedError("a tree link out of range")
                stack.append((child, d + 1))
    return deepest


def probe_rows(trees: Trees) -> list[tuple[int, ...]]:
    """Slot rows that reach every split: for each split, rows on both sides of each of its
    thresholds and the last slot (NaN, or an undeclared category), the other features in the
    first slot the path to it allows."""
    slots, width, nxt = trees.slots, trees.width, trees.next_flat
    rows: list[tuple[int, ...]] = []
    for root in trees.roots[1:]:
        stack = [(int(root), tuple(frozenset(range(s.count)) for s in slots))]
        while stack:
            node, allowed = stack.pop()
            at = int(trees.node_slot[node])
            if at == len(slots):
                continue
            base, ordered = [min(a) for a in allowed], sorted(allowed[at])
            child = {s: int(nxt[node * width + s]) for s in ordered}
            edges = {ordered[0], ordered[-1]}
            for s, t in itertools.pairwise(ordered):
                if child[s] != child[t]:
                    edges |= {s, t}
            rows.extend((*base[:at], s, *base[at + 1 :]) for s in sorted(edges))
            for target in set(child.values()):
                keep = frozenset(s for s in ordered if child[s] == target)
                stack.append((target, (*allowed[:at], keep, *allowed[at + 1 :])))
    return rows


Columns = Mapping[str, npt.NDArray[Any]]


def verify(trees: Trees, decision: Callable[[Columns, int], FloatArray]) -> None:
    """Raise unless the walk gives ``decision``'s scores (the model's own) on
    :func:`probe_rows`: a category the trees never saw in training, which scikit-learn
    scores as missing, is one such case."""
    rows = probe_rows(trees)
    columns = {s.name: np.array([s.value(r[i]) for r in rows]) for i, s in enumerate(trees.slots)}
    got, expected = trees.response(columns, len(rows)), decision(columns, len(rows))
    bad = np.flatnonzero(np.abs(got - expected) > 1e-12)
    if len(bad):
        row = {s.name: s.value(rows[bad[0]][i]) for i, s in enumerate(trees.slots)}
        raise UnsupportedError(f"the trees score {row} otherwise than the model")


def model_input(sources: Sequence[Source], columns: Columns, n: int) -> npt.NDArray[Any]:
    """The matrix a model over ``sources`` reads (object dtype, as a ColumnTransformer of
    mixed columns gives it): a source missing from ``columns`` as missing."""
    X = np.full((n, len(sources)), np.nan, dtype=object)
    for j, source in enumerate(sources):
        if source.name not in columns:
            continue
        if isinstance(source, Code):
            code_of, other = dict(source.codes), source.other
            X[:, j] = [code_of.get(v, other) for v in columns[source.name]]
        elif isinstance(source, Number):
            X[:, j] = np.asarray(columns[source.name], dtype=np.float64)
        else:
            raise UnsupportedError(f"trees reading {type(source).__name__}")
    return X
