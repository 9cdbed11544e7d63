"""FloydNet: expresses Floyd-Warshall exactly, permutation equivariance, masks, every block as the update,
3-WL negative control, explicit unreachable pairs, size limit, learning on real APSP instances."""

import math

import networkx as nx
import numpy as np
import pytest
import torch
from lightning import Trainer
from scipy.sparse.csgraph import shortest_path
from torch import nn

import ffn_blocks
from ffn_blocks.testing import block_classes
from ffn_graphs.floyd import (
    APSPData,
    APSPGraph,
    FloydAPSP,
    PairGINE,
    apsp_graph,
    collate_graphs,
    follow_next_hops,
    graph_properties_correct,
    next_hop_logits,
    next_hop_targets,
    readout_features,
)
from ffn_graphs.models.floydnet import FloydLayer, FloydNet


def _randomize(model):
    """Move the zero-initialized parts off zero so the layers are not the identity."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, FloydLayer):
                for layer in (module.out, module.mix):
                    nn.init.normal_(layer.weight, std=0.3)
                module.ffn_scale.fill_(0.5)
                module.ffn.reset_parameters()  # undo zero_init_last: a non-zero FFN output
    return model


def test_hand_set_min_plus_layers_compute_floyd_warshall_exactly():
    rng = np.random.default_rng(0)
    graph = apsp_graph("er", 9, rng)
    big = 1e4  # "no edge": large but finite, so 0 * big stays 0 in the (zeroed) mixing path
    r = torch.where(graph.weights > 0, graph.weights, torch.tensor(big)).double()
    r.fill_diagonal_(0)
    layer = FloydLayer(1, heads=1, reduce="min", wiring="gated").double()  # keep = 0: no residual
    layer.norm = nn.Identity()
    with torch.no_grad():
        for linear in (layer.value_left, layer.value_right, layer.out):
            linear.weight.fill_(1.0)
            linear.bias.zero_()
        layer.keep.zero_()
    x, mask = r[None, :, :, None], torch.ones(1, 9, dtype=torch.bool)
    for _ in range(math.ceil(math.log2(9))):  # repeated min-plus squaring
        x = layer(x, mask)
    got = x[0, :, :, 0]
    expected = shortest_path(graph.weights.numpy(), method="FW", directed=False)
    expected = torch.from_numpy(np.where(np.isfinite(expected), expected, big))
    assert torch.equal(got.clamp(max=big), expected.clamp(max=big))


@pytest.mark.parametrize("block", block_classes(), ids=lambda b: b.__name__)
def test_fresh_layers_are_the_identity_with_the_ffn_learning_where_it_can(block):
    torch.manual_seed(0)
    layer = FloydLayer(8, heads=2, ffn=block)
    r = torch.randn(2, 5, 5, 8)
    out = layer(r, torch.ones(2, 5, dtype=torch.bool))
    assert torch.allclose(out, r)
    (out * torch.randn_like(out)).sum().backward()
    ffn_grad = sum(float(p.grad.abs().sum()) for p in layer.ffn.parameters() if p.grad is not None)
    # an FFN with an output layer starts zeroed and scaled by 1 (it learns at once); others are gated by 0
    assert (ffn_grad > 0) == (block.output_layer is not None) and torch.all(layer.ffn_scale == (ffn_grad > 0))


@pytest.mark.parametrize("reduce", ["softmax", "min"])
def test_relabeling_nodes_permutes_the_relation_tensor(reduce):
    torch.manual_seed(0)
    model = _randomize(FloydNet(3, 2, dim=8, num_layers=2, heads=2, reduce=reduce, chunk_size=3)).eval()
    batch = collate_graphs([apsp_graph("geometric", 7, np.random.default_rng(1))])
    perm = torch.randperm(7)
    permuted = batch["pairs"][:, perm][:, :, perm]
    with torch.no_grad():
        out, out_permuted = model(batch["pairs"], batch["mask"]), model(permuted, batch["mask"])
    assert torch.allclose(out[:, perm][:, :, perm], out_permuted, atol=1e-5)


def test_padded_nodes_do_not_change_the_real_pairs():
    torch.manual_seed(0)
    model = _randomize(FloydNet(3, 2, dim=8, num_layers=2, heads=2)).eval()
    small = collate_graphs([apsp_graph("tree", 5, np.random.default_rng(2))])
    padded = torch.randn(1, 8, 8, 3)  # junk everywhere outside the real 5 x 5 block
    padded[:, :5, :5] = small["pairs"]
    mask = torch.zeros(1, 8, dtype=torch.bool)
    mask[:, :5] = True
    with torch.no_grad():
        a, b = model(small["pairs"], small["mask"]), model(padded, mask)
    assert torch.allclose(a, b[:, :5, :5], atol=1e-5)


@pytest.mark.parametrize("block", block_classes(), ids=lambda b: b.__name__)
def test_every_block_works_as_the_update(block):
    torch.manual_seed(0)
    model = FloydNet(3, 2, dim=8, num_layers=1, heads=2, ffn=block)
    with torch.no_grad():
        model.layers[0].ffn_scale.fill_(1.0)
        model.layers[0].ffn.reset_parameters()  # undo zero_init_last so the block's output matters
    batch = collate_graphs(
        [apsp_graph("er", 6, np.random.default_rng(3)), apsp_graph("grid", 4, np.random.default_rng(4))]
    )
    out = model(batch["pairs"], batch["mask"])
    (out.square().mean() + ffn_blocks.auxiliary_loss(model)).backward()
    grads = [p.grad for m in model.modules() if isinstance(m, block) for p in m.parameters()]
    assert (
        out.shape == (2, 6, 6, 2) and grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    )


def _shrikhande():
    graph = nx.Graph()
    steps = [(1, 0), (0, 1), (1, 1)]
    for a in range(4):
        for b in range(4):
            for da, db in steps:
                graph.add_edge((a, b), ((a + da) % 4, (b + db) % 4))
    return nx.convert_node_labels_to_integers(graph)


def _readout(model, graph):
    n = graph.number_of_nodes()
    pairs = torch.zeros(1, n, n, 3)
    adjacency = torch.from_numpy(nx.to_numpy_array(graph)).float()
    pairs[0, :, :, 0], pairs[0, :, :, 1], pairs[0, :, :, 2] = adjacency / 5, adjacency, torch.eye(n)
    with torch.no_grad():
        return model(pairs).sum(dim=(1, 2))


def test_3wl_negative_control_rook_vs_shrikhande_and_1wl_pair_separated():
    torch.manual_seed(0)
    model = _randomize(FloydNet(3, 2, dim=16, num_layers=3, heads=2)).eval()
    rook = nx.convert_node_labels_to_integers(
        nx.cartesian_product(nx.complete_graph(4), nx.complete_graph(4))
    )
    shrikhande = _shrikhande()
    assert all(d == 6 for _, d in rook.degree) and all(d == 6 for _, d in shrikhande.degree)
    assert not nx.is_isomorphic(rook, shrikhande)
    rook_out, shrikhande_out = _readout(model, rook), _readout(model, shrikhande)
    assert torch.allclose(rook_out, shrikhande_out, rtol=1e-4, atol=1e-3)  # 3-WL cannot tell them apart
    two_triangles = nx.disjoint_union(nx.cycle_graph(3), nx.cycle_graph(3))  # 1-WL confuses with C6
    assert not torch.allclose(_readout(model, two_triangles), _readout(model, nx.cycle_graph(6)), atol=1e-3)


def test_unreachable_pairs_are_explicit_and_the_size_limit_names_the_memory():
    forest = apsp_graph("tree", 6, np.random.default_rng(5))
    assert forest.reachable.all()  # a tree is connected
    rng = np.random.default_rng(0)
    graphs = [apsp_graph("geometric", 12, rng) for _ in range(20)]
    disconnected = [g for g in graphs if not g.reachable.all()]
    assert disconnected, "expected some disconnected geometric graphs"
    g = disconnected[0]
    assert torch.isfinite(g.distance).all() and (g.distance[~g.reachable] == 0).all()
    with pytest.raises(ValueError, match=r"n=40 nodes exceeds max_nodes=32 \(about .* GiB"):
        FloydNet(3, 2, dim=8, max_nodes=32)(torch.zeros(1, 40, 40, 3))


@pytest.mark.parametrize("readout", ["next_hop", "distance"])
@pytest.mark.parametrize("network", ["floydnet", "gine"])
def test_training_on_real_apsp_instances_reduces_the_loss(network, readout):
    torch.manual_seed(0)
    data = APSPData(train_nodes=(5, 8), test_nodes=(8, 10), train_graphs=96, eval_graphs=16, batch_size=16)
    out = readout_features(readout, pointer_dim=4)
    net = (
        FloydNet(3, out, dim=16, num_layers=3, heads=2)
        if network == "floydnet"
        else PairGINE(out_features=out, dim=16, num_layers=3)
    )
    module = FloydAPSP(net, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), readout=readout)
    trainer = Trainer(max_epochs=6, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    before = trainer.validate(module, data, verbose=False)[0]["val/loss"]
    trainer.fit(module, data)
    after = trainer.validate(module, data, verbose=False)[0]["val/loss"]
    assert after < 0.5 * before, (before, after)


def test_diameter_and_connectivity_are_read_off_the_pairs():
    rng = np.random.default_rng(3)
    graphs = [apsp_graph("tree", 6, rng), apsp_graph("geometric", 12, rng), apsp_graph("er", 9, rng)]
    batch = collate_graphs(graphs)
    pair_mask = batch["mask"][:, :, None] & batch["mask"][:, None, :]
    exact_logit = torch.where(batch["reachable"], 5.0, -5.0)
    perfect = graph_properties_correct(batch["distance"] + 0.3, exact_logit, batch, pair_mask)
    assert perfect == {"connected_acc": 1.0, "diameter_acc": 1.0}
    assert graphs[0].reachable.all()  # a tree is connected
    unreachable = exact_logit.clone()
    unreachable[0, 0, 1] = -5.0  # the tree said disconnected
    said = graph_properties_correct(batch["distance"], unreachable, batch, pair_mask)
    assert said["connected_acc"] == pytest.approx(2 / 3)
    i, j = batch["reachable"][2].nonzero()[1].tolist()  # a reachable pair of the third graph
    longer = batch["distance"].clone()
    longer[2, i, j] = batch["distance"][2].max() + 1
    assert graph_properties_correct(longer, exact_logit, batch, pair_mask)["diameter_acc"] == pytest.approx(
        2 / 3
    )


def test_fresh_training_graphs_change_every_epoch_and_replay_exactly():
    def make():
        data = APSPData(train_graphs=8, eval_graphs=4, batch_size=8, fresh_train=True)
        data.setup()
        return data

    def pairs(loader):
        return torch.cat([batch["pairs"].flatten() for batch in loader])

    data, fixed = make(), APSPData(train_graphs=8, eval_graphs=4, batch_size=8)
    fixed.setup()
    graphs = data.splits["train"]
    epochs = []
    for epoch in range(2):
        graphs.set_epoch(epoch)
        epochs.append([graphs[i].weights for i in range(len(graphs))])
    assert not any(torch.equal(a, b) for a in epochs[0] for b in epochs[1] if a.shape == b.shape)
    loader = data.train_dataloader()
    pairs(loader)
    second = pairs(loader)
    again = make().train_dataloader()
    again.set_position(1)  # a resumed run's second epoch
    assert torch.equal(pairs(again), second)
    for split in ("val", "test"):  # evaluation sets are the fixed ones
        assert all(
            torch.equal(a.weights, b.weights)
            for a, b in zip(data.splits[split], fixed.splits[split], strict=True)
        )


def _padded_batch(seed=5):
    rng = np.random.default_rng(seed)
    sizes = [("tree", 7), ("grid", 12), ("er", 10), ("geometric", 11)]
    graphs = [apsp_graph(family, n, rng) for family, n in sizes]
    graphs.append(APSPGraph(torch.zeros(4, 4), torch.zeros(4, 4), torch.eye(4, dtype=torch.bool)))  # no edges
    return collate_graphs(graphs)


def test_following_the_true_next_hops_gives_every_exact_distance_and_a_cycle_never_arrives():
    batch = _padded_batch()
    n = batch["mask"].shape[1]
    reachable = batch["reachable"]
    hops = next_hop_targets(batch)
    off_diagonal = reachable & ~torch.eye(n, dtype=torch.bool)
    assert hops[off_diagonal].any(-1).all()  # every reachable pair has a first hop
    assert not hops[~reachable].any()  # and no unreachable (or padded) pair has one
    logits = torch.where(hops, 1.0, float("-inf"))
    distance, arrived = follow_next_hops(logits, batch["weight"])
    assert arrived[reachable].all()
    assert torch.equal(distance[reachable], batch["distance"][reachable])
    # a pair two or more hops apart: send its first hop straight back, and that walk never arrives
    b, i, k = (off_diagonal & ~hops.diagonal(dim1=2, dim2=3)).nonzero()[0].tolist()  # k is no neighbour
    j = int(hops[b, i, k].nonzero()[0])
    logits[b, j, k] = torch.where(torch.arange(n) == i, 2.0, float("-inf"))
    assert not follow_next_hops(logits, batch["weight"])[1][b, i, k]


def test_next_hop_scores_only_neighbours_and_stay_finite_without_any():
    batch = _padded_batch()
    edge = batch["pairs"][..., 1] > 0
    logits = next_hop_logits(torch.randn(*edge.shape, 12, requires_grad=True), edge)
    has_edge = edge.any(-1)
    not_a_neighbour = (has_edge[:, :, None, None] & ~edge[:, :, None, :]).expand_as(logits)
    assert torch.isinf(logits[not_a_neighbour]).all() and torch.isfinite(logits[~not_a_neighbour]).all()
    assert torch.isfinite(logits[~has_edge]).all()  # isolated and padded nodes: uniform, not NaN


def test_next_hop_readout_trains_with_finite_gradients_through_padding_and_isolated_nodes():
    torch.manual_seed(0)
    module = FloydAPSP(FloydNet(3, readout_features("next_hop", 4), dim=8, num_layers=2, heads=2))
    batch = _padded_batch()
    out = module.network(batch["pairs"], batch["mask"])
    pair_mask = batch["mask"][:, :, None] & batch["mask"][:, None, :]
    _, _, loss = module._distance(out, batch, batch["reachable"] & pair_mask)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)


def test_a_network_with_the_wrong_output_channels_for_the_readout_is_named():
    batch = _padded_batch()
    for readout, channels, message in (
        ("next_hop", 2, "needs 1 \\+ 3·p output channels"),
        ("distance", 7, "needs 2"),
    ):
        module = FloydAPSP(FloydNet(3, channels, dim=8, num_layers=1, heads=2), readout=readout)
        with pytest.raises(ValueError, match=f"readout='{readout}' {message}.*got {channels}"):
            module.training_step(batch, 0)
    with pytest.raises(ValueError, match="readout='hops' must be one of"):
        FloydAPSP(readout="hops")


@pytest.mark.parametrize("readout", ["next_hop", "distance"])
def test_floyd_fast_dev_run(configs, in_tmp_dir, readout):
    from ffn_graphs.cli import main

    extra = (
        [] if readout == "next_hop" else ["--model.readout", "distance", "--model.network.out_features", "2"]
    )
    main(
        [
            "floyd",
            "fit",
            "--config",
            str(configs / "floyd_tiny.yaml"),
            "--trainer.fast_dev_run",
            "true",
            *extra,
        ]
    )


def test_parameter_count_is_the_packages_and_the_first_wiring_is_an_option():
    # floydnet 1.x PivotalAttentionBlock(bias=True) stacks behind the same encoder, norm and head
    assert sum(p.numel() for p in FloydNet(3, 2, dim=32, num_layers=4).parameters()) == 63_750
    gated = FloydNet(3, 2, dim=32, num_layers=4, wiring="gated")
    # per layer: + keep (32) + per-channel gain (32 - 1) - query and key biases (3 · 32)
    assert sum(p.numel() for p in gated.parameters()) == 63_750 + 4 * (32 + 31 - 96)
    layer = FloydLayer(32, heads=4)
    bound = math.sqrt(6 / (32 + 5 * 32))  # Xavier over the package's fused 32 -> 160 projection
    assert layer.query.weight.abs().max() <= bound and layer.query.weight.abs().max() > 0.9 * bound
    assert layer.query.bias is not None and layer.keep is None and layer.ffn_scale.shape == (1,)
    with pytest.raises(ValueError, match="wiring='residual' must be 'package' or 'gated'"):
        FloydLayer(8, heads=2, wiring="residual")


def _load_package_weights(ours, theirs):
    state = {}
    for key, value in theirs.state_dict().items():
        parts = key.split(".")
        if parts[0] != "layers":
            state[key] = value
            continue
        prefix, name = ".".join(parts[:2]), ".".join(parts[2:])
        if name.startswith("c_qkv."):
            kind = name.split(".")[1]
            for target, chunk in zip(
                ("query", "key_left", "key_right", "value_left", "value_right"), value.chunk(5), strict=True
            ):
                state[f"{prefix}.{target}.{kind}"] = chunk
            continue
        renamed = {
            "c_mix": "mix",
            "c_proj": "out",
            "norm1": "norm",
            "norm2": "ffn_norm",
            "ffn.0": "ffn.fc1",
            "ffn.2": "ffn.fc2",
        }
        for old, new in renamed.items():
            if name.startswith(old + "."):
                name = new + name[len(old) :]
        state[f"{prefix}.{name}"] = value.reshape(1) if name == "ffn_scale" else value
    ours.load_state_dict(state, strict=True)


def test_same_output_as_the_floydnet_package_with_the_same_weights():
    pytest.importorskip("floydnet")
    from ffn_graphs.models.floydnet_package import PackageFloydNet

    torch.manual_seed(0)
    theirs = PackageFloydNet(3, 2, dim=16, num_layers=2, heads=4).eval()
    with torch.no_grad():  # off the identity start, so every path counts
        for parameter in theirs.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    ours = FloydNet(3, 2, dim=16, num_layers=2, heads=4, chunk_size=3).eval()
    _load_package_weights(ours, theirs)
    batch = _padded_batch()
    with torch.no_grad():
        expected = theirs(batch["pairs"], batch["mask"])
        got = ours(batch["pairs"], batch["mask"])
    pair_mask = batch["mask"][:, :, None] & batch["mask"][:, None, :]
    torch.testing.assert_close(got[pair_mask], expected[pair_mask], rtol=1e-4, atol=1e-5)
