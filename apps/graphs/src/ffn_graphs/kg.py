"""Knowledge-graph completion helpers: the fact graph with inverse edges, easy-edge removal, negatives,
and the filtered ranking protocol.

Head prediction ``(?, r, t)`` is answered as tail prediction ``(t, r⁻¹, ?)`` with the inverse relation
``r + R``, so every query is a tail query on a graph that holds each fact in both directions.
"""

from __future__ import annotations

import torch

__all__ = [
    "both_directions",
    "fact_graph",
    "filtered_ranks",
    "non_answers",
    "ranking_metrics",
    "remove_easy_edges",
    "sample_negatives",
    "sampled_ranking_metrics",
    "split_directions",
    "true_tail_mask",
]


def fact_graph(triples: torch.Tensor, num_relations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``edge_index (2, 2n)`` and ``edge_type (2n,)`` with every fact and its inverse (relation ``r + R``)."""
    heads, relations, tails = triples.unbind(1)
    edge_index = torch.stack([torch.cat([heads, tails]), torch.cat([tails, heads])])
    return edge_index, torch.cat([relations, relations + num_relations])


def _inverse(triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    heads, relations, tails = triples.unbind(1)
    return torch.stack([tails, relations + num_relations, heads], dim=1)


def both_directions(triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    """``(h, r, t)`` and ``(t, r + R, h)`` for every triple: tail queries for both prediction directions."""
    return torch.cat([triples, _inverse(triples, num_relations)])


def split_directions(triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    """One tail query per triple: ``(h, r, t)`` for the first half, ``(t, r + R, h)`` for the rest.

    The reference's training batch (NBFNet-PyG ``tasks.negative_sampling``): the first ``B // 2``
    triples have their tails corrupted, the others their heads, so a triple is one query per epoch.
    """
    half = len(triples) // 2
    return torch.cat([triples[:half], _inverse(triples[half:], num_relations)])


def remove_easy_edges(
    edge_index: torch.Tensor,
    edge_type: torch.Tensor,
    queries: torch.Tensor,
    num_relations: int,
    one_hop: bool = False,
    candidates: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the edges that state the answers of ``queries`` directly: ``(h, r, t)`` and ``(t, r⁻¹, h)``,
    or with ``one_hop`` every edge between ``h`` and ``t`` whatever its relation (the reference's
    ``remove_one_hop``, set in its FB15k-237 configs).

    NBFNet's training trick: otherwise the model learns to read the target edge instead of reasoning
    over the other paths (and then fails on test triples, which are absent from the graph).

    ``candidates`` (``(B, K)``, default the targets ``queries[:, 2:]``): the scored tails of each query,
    its target and its negatives. The reference removes the easy edges of every candidate, not only of
    the target: under ``one_hop`` a negative would otherwise keep its direct edges to the query's head
    while the answer never has one, and the model would learn "a direct edge means a wrong answer".
    (Without ``one_hop`` filtered negatives have no ``(h, r, ·)`` edge, so this removes nothing more.)
    """
    if candidates is not None:
        queries = torch.cat(
            [queries[:, :2].repeat_interleave(candidates.shape[1], 0), candidates.reshape(-1, 1)], dim=1
        )
    heads, relations, tails = queries.unbind(1)
    inverse = torch.where(relations < num_relations, relations + num_relations, relations - num_relations)
    removed = torch.cat(
        [torch.stack([heads, relations, tails], dim=1), torch.stack([tails, inverse, heads], dim=1)]
    )
    span = int(max(edge_index.max(), removed[:, [0, 2]].max())) + 1
    key = lambda h, r, t: (r * span + h) * span + t  # noqa: E731
    relation_of = (lambda r: torch.zeros_like(r)) if one_hop else (lambda r: r)
    edge_keys = key(edge_index[0], relation_of(edge_type), edge_index[1])
    keep = ~torch.isin(edge_keys, key(removed[:, 0], relation_of(removed[:, 1]), removed[:, 2]))
    return edge_index[:, keep], edge_type[keep]


def true_tail_mask(queries: torch.Tensor, known: torch.Tensor, num_entities: int) -> torch.Tensor:
    """``(B, num_entities)`` boolean: ``e`` answers query ``b``, i.e. ``(h_b, r_b, e)`` is in ``known``."""
    span = num_entities
    known_pairs = known[:, 1] * span + known[:, 0]  # (r, h) keys
    query_pairs = queries[:, 1] * span + queries[:, 0]
    mask = torch.zeros(queries.shape[0], num_entities, dtype=torch.bool)
    order = torch.argsort(known_pairs)
    sorted_pairs = known_pairs[order]
    starts = torch.searchsorted(sorted_pairs, query_pairs)
    ends = torch.searchsorted(sorted_pairs, query_pairs, right=True)
    for b in range(queries.shape[0]):  # per query, the (few) true tails
        mask[b, known[order[starts[b] : ends[b]], 2]] = True
    return mask


def sample_negatives(
    true_mask: torch.Tensor, count: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``(B, count)`` entities drawn uniformly among those that are not true answers (filtered negatives)."""
    weights = (~true_mask).float()
    weights[weights.sum(1) == 0] = 1.0  # a query whose every entity is true: fall back to uniform
    return torch.multinomial(weights, count, replacement=True, generator=generator)


def non_answers(true_mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(B, num_entities)`` boolean: the candidates a target competes with, neither a known answer of
    its query nor the target itself."""
    competitors = ~true_mask
    competitors[torch.arange(len(targets)), targets] = False
    return competitors


def filtered_ranks(scores: torch.Tensor, targets: torch.Tensor, true_mask: torch.Tensor) -> torch.Tensor:
    """Rank of each target among all entities after removing the other known answers.

    ``rank = 1 + #(non-filtered candidates scoring ≥ the target)``: ties count against the target, so a
    constant scorer ranks last, not first.
    """
    target_scores = scores.gather(1, targets[:, None])
    beats = (scores >= target_scores) & non_answers(true_mask, targets)
    return 1 + beats.sum(dim=1)


def sampled_ranking_metrics(
    ranks: torch.Tensor, non_answers: torch.Tensor, num_negatives: int
) -> dict[str, float]:
    """MRR and Hits@1/3/10 of GraIL's protocol, in expectation over its draw of negatives.

    GraIL ranks each target among itself and ``num_negatives`` entities drawn uniformly (with
    replacement) from the query's ``non_answers``; its published numbers use 49 negatives (50
    candidates). A target that ``rank − 1`` of its ``M`` non-answers outrank (`filtered_ranks`) loses to
    each draw with probability ``p = (rank − 1) / M``, so its sampled rank is ``1 + Binomial(n, p)``.
    The metrics are that distribution's exact expectations (NBFNet's estimator of Hits@10 among 50)
    rather than one draw's, so they carry no sampling noise.

    Args:
        ranks: filtered ranks among all entities, ``(B,)``.
        non_answers: how many candidates each query's target competes with (`non_answers`), ``(B,)``.
        num_negatives: negatives drawn per query (n).
    """
    p = ((ranks.double() - 1) / non_answers.double().clamp_min(1))[:, None]
    losses = torch.arange(num_negatives + 1, dtype=torch.float64)  # negatives outranking the target
    log_choose = (
        torch.lgamma(torch.tensor(num_negatives + 1.0, dtype=torch.float64))
        - torch.lgamma(losses + 1)
        - torch.lgamma(num_negatives - losses + 1)
    )
    pmf = torch.exp(
        log_choose + torch.special.xlogy(losses, p) + torch.special.xlog1py(num_negatives - losses, -p)
    )  # (B, n + 1): P(sampled rank = 1 + i)
    return {
        "mrr": float((pmf / (1 + losses)).sum(1).mean()),
        **{f"hits@{k}": float(pmf[:, :k].sum(1).mean()) for k in (1, 3, 10)},
    }


def ranking_metrics(ranks: torch.Tensor) -> dict[str, float]:
    """MRR and Hits@1/3/10 of a vector of ranks."""
    ranks = ranks.double()
    return {
        "mrr": float((1.0 / ranks).mean()),
        **{f"hits@{k}": float((ranks <= k).double().mean()) for k in (1, 3, 10)},
    }
