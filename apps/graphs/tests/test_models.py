"""GNNs and NBFNet: Virgo on Cora's real graph, ranking on a hand-made graph, every block inside."""

from functools import partial

import pytest
import torch

import ffn_blocks
from ffn_blocks.testing import block_classes
from ffn_graphs.kg import (
    both_directions,
    fact_graph,
    filtered_ranks,
    non_answers,
    ranking_metrics,
    remove_easy_edges,
    sample_negatives,
    sampled_ranking_metrics,
    split_directions,
    true_tail_mask,
)
from ffn_graphs.models.gnn import DeepGNN, initialize, nonzero_dropout
from ffn_graphs.models.nbfnet import NBFNet

BLOCKS = block_classes()


def _layer_variances(graph, scheme, width=256, seeds=4):
    logs = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = DeepGNN(graph.num_features, width, 7, depth=16).eval()
        initialize(model, graph, scheme)
        with torch.no_grad():
            _, hidden = model(graph.x, graph.edge_index, return_hidden=True)
        logs.append(torch.tensor([h.var().item() for h in hidden[1:-1]]).log())
    return torch.stack(logs).mean(0).exp()  # geometric mean over seeds, per layer


def test_virgo_keeps_activation_variance_across_16_layers_and_xavier_does_not(cora):
    """Layers 2-15 of a random 16-layer GCN on Cora (the first layer reads the row-normalized
    bag-of-words features, a different regime; the last is the logits)."""
    virgo = _layer_variances(cora, "virgo")
    xavier = _layer_variances(cora, "xavier")
    assert (virgo.max() / virgo.min()).item() < 2.0
    assert (xavier.max() / xavier.min()).item() > 100.0


def test_nonzero_dropout_is_dropout_drawn_on_the_nonzeros_only(cora):
    x = cora.x
    torch.manual_seed(0)
    dropped = nonzero_dropout(x, 0.5)
    nonzero = x != 0
    assert not dropped[~nonzero].any()  # a zero stays zero, as under F.dropout
    kept = dropped[nonzero] != 0
    assert torch.equal(dropped[nonzero][kept], 2 * x[nonzero][kept])  # survivors scaled by 1 / (1 - p)
    assert kept.float().mean().item() == pytest.approx(0.5, abs=0.01)  # ~49k draws
    assert nonzero_dropout(x, 0.5, training=False) is x and nonzero_dropout(x, 0.0) is x
    weight = torch.randn(x.shape[1], 4, requires_grad=True)
    (nonzero_dropout(x, 0.5) @ weight).sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_the_gnn_finds_its_inputs_nonzeros_once_and_again_when_they_change(cora, monkeypatch):
    model = DeepGNN(cora.num_features, 16, 7)
    x = cora.x.clone()
    calls = []
    nonzero = torch.Tensor.nonzero
    monkeypatch.setattr(torch.Tensor, "nonzero", lambda t, *a, **k: calls.append(1) or nonzero(t, *a, **k))

    def forward(features):
        torch.manual_seed(0)
        return model(features, cora.edge_index)

    first = forward(x)  # finds the nonzeros
    assert torch.equal(forward(x), first) and len(calls) == 1  # reused: the same output, bit for bit
    x[0, x[0] == 0] = 1.0  # the features changed in place: found again
    changed = forward(x)
    assert not torch.equal(changed, first) and len(calls) == 2
    assert torch.equal(forward(x.clone()), changed) and len(calls) == 3  # another tensor: found for it
    model.eval()
    forward(x)
    assert len(calls) == 3  # evaluation drops nothing, so it looks for nothing
    model.train()
    model.cache_inputs = False  # as before the cache: found every step, the same output
    assert torch.equal(forward(x), changed) and torch.equal(forward(x), changed) and len(calls) == 5


def test_virgo_reaches_sage_and_gin_weights(cora):
    sage = DeepGNN(cora.num_features, 32, 7, depth=3, conv="sage")
    variances = initialize(sage, cora, "virgo")
    bound = (3 * variances[1]) ** 0.5
    assert sage.convs[1].lin_l.weight.abs().max() <= bound and sage.convs[1].lin_r.weight.abs().max() <= bound
    gin = DeepGNN(cora.num_features, 32, 7, depth=3, conv="gin")
    variances = initialize(gin, cora, "virgo")
    assert gin.convs[2].nn.fc2.weight.var().item() == pytest.approx(variances[2], rel=0.5)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_every_block_works_as_gin_update_and_nbfnet_update(block, cora):
    gin = DeepGNN(cora.num_features, 16, 7, depth=2, conv="gin", ffn=block)
    out = gin(cora.x, cora.edge_index)
    assert out.shape == (cora.num_nodes, 7)
    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [2, 0, 3], [3, 1, 4]])
    edge_index, edge_type = fact_graph(triples, 2)
    net = NBFNet(4, dim=8, num_layers=2, update=block, scorer=block)
    scores = net(torch.tensor([0, 2]), torch.tensor([0, 1]), edge_index, edge_type, 5)
    assert scores.shape == (2, 5)
    (out.square().mean() + scores.square().mean() + ffn_blocks.auxiliary_loss(net)).backward()


def test_filtered_ranking_known_answer_on_a_hand_made_graph():
    # 5 entities; query (0, r0, ?) with true tails {1, 3}; the test triple is (0, r0, 3)
    known = torch.tensor([[0, 0, 1], [0, 0, 3], [2, 1, 4]])
    queries = torch.tensor([[0, 0, 3]])
    mask = true_tail_mask(queries, known, 5)
    assert mask.tolist() == [[False, True, False, True, False]]
    scores = torch.tensor([[0.5, 9.0, 2.0, 1.0, 1.0]])  # 1 (true, filtered) beats 3; 2 beats it; 4 ties it
    assert filtered_ranks(scores, queries[:, 2], mask).tolist() == [3]  # 1 + {entity 2, entity 4 (tie)}
    metrics = ranking_metrics(torch.tensor([1, 2, 4, 20]))
    assert metrics["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 20) / 4)
    assert (metrics["hits@1"], metrics["hits@3"], metrics["hits@10"]) == (0.25, 0.5, 0.75)


def test_constant_scores_rank_last():
    mask = torch.zeros(1, 6, dtype=torch.bool)
    assert filtered_ranks(torch.zeros(1, 6), torch.tensor([2]), mask).tolist() == [6]


def test_negatives_never_include_true_answers():
    known = both_directions(torch.tensor([[0, 0, 1], [0, 0, 2], [3, 1, 0]]), 2)
    queries = torch.tensor([[0, 0, 1], [0, 3, 3]])  # the second is the inverse of (3, 1, 0)
    mask = true_tail_mask(queries, known, 5)
    negatives = sample_negatives(mask, 500, torch.Generator().manual_seed(0))
    assert not set(negatives[0].tolist()) & {1, 2} and 3 not in negatives[1].tolist()


def test_sampled_protocol_metrics_are_the_expectation_of_real_draws():
    # 3 queries over 60 entities, 4 true answers each (target included); GraIL draws 49 negatives
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 60, generator=generator)
    targets = torch.tensor([5, 17, 42])
    mask = torch.zeros(3, 60, dtype=torch.bool)
    mask[:, :3], mask[torch.arange(3), targets] = True, True
    scores[torch.arange(3), targets] = torch.tensor([3.0, 0.0, -3.0])  # near the top, middle, bottom
    ranks = filtered_ranks(scores, targets, mask)
    expected = sampled_ranking_metrics(ranks, non_answers(mask, targets).sum(1), 49)
    draws = []
    for _ in range(4000):  # the protocol itself: rank among the target and 49 sampled non-answers
        negatives = sample_negatives(mask, 49, generator)
        beaten = (scores.gather(1, negatives) >= scores.gather(1, targets[:, None])).sum(1)
        draws.append(ranking_metrics(1 + beaten))
    for name, value in expected.items():
        assert value == pytest.approx(sum(d[name] for d in draws) / len(draws), abs=0.01), name
    assert 0.1 < expected["hits@10"] < 0.9  # the middle query is really uncertain: the test can fail


def test_sampled_protocol_metrics_at_the_extremes():
    best = sampled_ranking_metrics(torch.tensor([1]), torch.tensor([100]), 49)
    worst = sampled_ranking_metrics(torch.tensor([101]), torch.tensor([100]), 49)  # every negative wins
    assert best == {"mrr": 1.0, "hits@1": 1.0, "hits@3": 1.0, "hits@10": 1.0}
    assert worst["mrr"] == pytest.approx(1 / 50) and worst["hits@10"] == pytest.approx(0.0)


def test_easy_edges_are_removed_in_both_directions_and_nothing_else():
    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [0, 1, 1]])
    edge_index, edge_type = fact_graph(triples, 2)
    kept_index, kept_type = remove_easy_edges(edge_index, edge_type, torch.tensor([[0, 0, 1]]), 2)
    kept = {(h, r, t) for (h, t), r in zip(kept_index.T.tolist(), kept_type.tolist(), strict=True)}
    assert kept == {(1, 1, 2), (2, 3, 1), (0, 1, 1), (1, 3, 0)}
    # remove_one_hop: every edge between 0 and 1 goes, the other relation's too
    kept_index, kept_type = remove_easy_edges(
        edge_index, edge_type, torch.tensor([[0, 0, 1]]), 2, one_hop=True
    )
    kept = {(h, r, t) for (h, t), r in zip(kept_index.T.tolist(), kept_type.tolist(), strict=True)}
    assert kept == {(1, 1, 2), (2, 3, 1)}


def test_nbfnet_boundary_only_reaches_nodes_within_range():
    triples = torch.tensor([[0, 0, 1], [1, 0, 2], [2, 0, 3], [3, 0, 4]])  # a path
    edge_index, edge_type = fact_graph(triples, 1)
    net = NBFNet(
        2,
        dim=8,
        num_layers=2,
        shortcut=False,
        aggregate="sum",
        update=partial(ffn_blocks.MLP, bias=False),
        scorer=partial(ffn_blocks.MLP, bias=False),
    )
    for layer in net.layers:
        layer.norm = torch.nn.Identity()
    h = net.query(torch.tensor([0]))
    boundary = torch.zeros(5, 1, 8)
    boundary[0, 0] = h
    state = boundary
    for layer in net.layers:
        state = layer(state, boundary, edge_index, edge_type, h)
    reached = state.abs().sum(dim=(1, 2)) > 0
    assert reached.tolist() == [True, True, True, False, False]  # two hops from entity 0


@pytest.mark.parametrize("dependent", [False, True])
def test_dependent_relations_make_messages_depend_on_the_query(dependent):
    """Two queries with the same node states and boundary but different query relations: with
    ``dependent`` (the reference's default) the relation vectors, hence the states, differ; without,
    they cannot."""
    from ffn_graphs.models.nbfnet import BellmanFordLayer

    torch.manual_seed(0)
    layer = BellmanFordLayer(4, 3, update=ffn_blocks.MLP, dependent=dependent)
    edge_index, edge_type = torch.tensor([[0, 1, 2], [1, 2, 0]]), torch.tensor([0, 1, 2])
    x = torch.randn(3, 1, 4).expand(3, 2, 4)
    out = layer(x, torch.zeros(3, 2, 4), edge_index, edge_type, torch.randn(2, 4))
    assert torch.allclose(out[:, 0], out[:, 1]) is not dependent
    net = NBFNet(6, dim=4, num_layers=2, dependent=True)  # and end to end, with gradients to the map
    scores = net(torch.tensor([0, 1]), torch.tensor([0, 4]), edge_index, edge_type, 3)
    scores.sum().backward()
    assert scores.shape == (2, 3) and net.layers[0].relation.weight.grad.abs().sum() > 0


def test_pna_aggregation_matches_a_per_node_loop_with_the_boundary_as_a_self_message():
    """The 2-D `index_add`/`index_reduce` aggregation equals, in values and gradients, the statistics of
    each node's messages plus its boundary taken one node at a time; tied (zero) messages share the
    max/min gradient evenly, as `torch.amax` does, and a node without in-edges sees its boundary alone."""
    from ffn_graphs.models.nbfnet import BellmanFordLayer

    torch.manual_seed(0)
    layer = BellmanFordLayer(4, 3, update=ffn_blocks.MLP)
    num_nodes, target = 6, torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 4])  # node 5: no in-edges
    messages = torch.randn(len(target), 2, 4)
    messages[6:9] = 0.0  # ties for max/min at node 3, whose boundary is zero too
    boundary = torch.zeros(num_nodes, 2, 4)
    boundary[[0, 5]] = torch.randn(2, 2, 4)
    ours_inputs = [t.clone().requires_grad_() for t in (messages, boundary)]
    ours = layer._aggregate(*ours_inputs, target)

    ref_messages, ref_boundary = (t.clone().requires_grad_() for t in (messages, boundary))
    rows = []
    for node in range(num_nodes):
        own = torch.cat([ref_messages[target == node], ref_boundary[node : node + 1]])
        mean = own.mean(0)
        std = (own.square().mean(0) - mean.square()).clamp_min(1e-6).sqrt()
        rows.append((torch.cat([mean, own.amax(0), own.amin(0), std], -1), len(own)))
    stats = torch.stack([r for r, _ in rows])
    # the reference's PNA scaler: log of the messages a node aggregates, its boundary included, i.e.
    # log(in-degree + 1); by hand: in-degrees 2, 3, 1, 4, 1, 0
    counts = torch.tensor([float(n) for _, n in rows])
    assert counts.tolist() == [3, 4, 2, 5, 2, 1]
    log_degree = counts.log()[:, None, None]
    scale = log_degree / log_degree.mean()
    reference = torch.cat([stats, stats * scale, stats / scale.clamp_min(1e-2)], -1)

    torch.testing.assert_close(ours, reference)
    weights = torch.randn_like(reference)
    (ours * weights).sum().backward()
    (reference * weights).sum().backward()
    torch.testing.assert_close(ours_inputs[0].grad, ref_messages.grad)
    torch.testing.assert_close(ours_inputs[1].grad, ref_boundary.grad)


def test_split_directions_asks_the_first_half_for_tails_and_the_rest_for_heads():
    # NBFNet-PyG's negative_sampling: tails of batch[: B // 2] corrupted, heads of the rest
    triples = torch.tensor([[0, 0, 1], [2, 1, 3], [4, 0, 5], [6, 1, 7], [8, 0, 9]])
    assert split_directions(triples, 2).tolist() == [[0, 0, 1], [2, 1, 3], [5, 2, 4], [7, 3, 6], [9, 2, 8]]


def test_one_hop_removal_takes_the_edges_of_every_candidate_not_only_the_answer():
    # facts: 0-1 (the answer's), 0-2 and 2-0 (a negative's, two relations), 3-4 (elsewhere)
    triples = torch.tensor([[0, 1, 1], [0, 0, 2], [2, 1, 0], [3, 0, 4]])
    edge_index, edge_type = fact_graph(triples, 2)
    query, candidates = torch.tensor([[0, 0, 1]]), torch.tensor([[1, 2]])  # answer 1, negative 2

    def kept(one_hop, with_candidates):
        index, types = remove_easy_edges(
            edge_index, edge_type, query, 2, one_hop, candidates if with_candidates else None
        )
        return {(h, r, t) for (h, t), r in zip(index.T.tolist(), types.tolist(), strict=True)}

    assert kept(True, True) == {(3, 0, 4), (4, 2, 3)}  # no edge left between 0 and any candidate
    assert (0, 0, 2) in kept(True, False)  # the answer's edges only: the negative keeps its shortcut
    # without one_hop: (h, r, c) and its inverse per candidate, whatever else joins them stays
    assert kept(False, True) == {(0, 1, 1), (1, 3, 0), (2, 1, 0), (0, 3, 2), (3, 0, 4), (4, 2, 3)}


@pytest.mark.parametrize("dependent", [False, True])
def test_nbfnet_has_the_reference_parameter_count_by_default(dependent):
    """NBFNet-PyG's model, counted from its code: the query embedding; per layer one linear update
    ``13d → d`` (PNA), LayerNorm and the relation vectors (a ``d → 2R·d`` map when dependent); the
    scorer ``2d → 2d → 1``."""
    relations, d, layers = 2 * 237, 32, 6
    relation = d * relations * d + relations * d if dependent else relations * d
    layer = (13 * d * d + d) + 2 * d + relation
    expected = relations * d + layers * layer + (2 * d * 2 * d + 2 * d) + (2 * d + 1)
    net = NBFNet(relations, dim=d, num_layers=layers, dependent=dependent)
    assert sum(p.numel() for p in net.parameters()) == expected
    assert all(type(layer.update_ffn) is torch.nn.Linear for layer in net.layers)
