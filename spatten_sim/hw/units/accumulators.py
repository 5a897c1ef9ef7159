"""Importance accumulators: cascade token-pruning scores, beside the critical path.

Hardware [P]: adders that add each final probability of a query to its token's cumulative score
(and, at probxV, |E| to the head's score) as the decision unit passes the probabilities on. They
keep pace with the softmax stream and never stall it, so they have no stage of their own: they
are busy in the cycles the decision unit takes elements of a final pass (docs/timing-model.md
§3). Actions: ``adds`` (one per probability; the head-score adds are counted by probxV).
"""

from __future__ import annotations

from spatten_sim.hw.units.base import total


def count(actions, n) -> None:
    actions["importance_accumulators"]["adds"] += total(n)
