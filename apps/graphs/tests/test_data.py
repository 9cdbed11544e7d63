"""Graph data: PyG's Planetoid on the cached raw files, knowledge-graph files and their errors."""

import pytest
import torch

from ffn_graphs.data import (
    KnowledgeGraphDataModule,
    LinkPredictionDataModule,
    planetoid,
    read_triples,
)
from ffn_graphs.kg import both_directions


@pytest.mark.parametrize(("name", "nodes", "classes"), [("Cora", 2708, 7), ("CiteSeer", 3327, 6)])
def test_planetoid_public_split(name, nodes, classes):
    graph = planetoid(name)
    assert graph.num_nodes == nodes and int(graph.y.max()) + 1 == classes
    assert int(graph.train_mask.sum()) == 20 * classes
    assert int(graph.val_mask.sum()) == 500 and int(graph.test_mask.sum()) == 1000


def test_planetoid_is_processed_once_beside_its_cached_raw_files(tmp_path, monkeypatch):
    from ffn_data import MIRROR_ENV, cache_root
    from ffn_data.testing import MirrorServer, copy_dataset

    planetoid("Cora")  # into the session's cache, through whatever mirror is set
    copy_dataset(cache_root(), tmp_path / "mirror", "planetoid")
    with MirrorServer(tmp_path / "mirror") as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        graph = planetoid("Cora", root=tmp_path / "cache")
        assert sorted(server.requests) == sorted(
            f"/planetoid/ind.cora.{s}" for s in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
        )
        assert (tmp_path / "cache" / "planetoid" / "processed" / "Cora").is_dir()
        again = planetoid("Cora", root=tmp_path / "cache")
        assert len(server.requests) == 8  # cached raw files, no second download
    assert torch.equal(graph.x, again.x) and torch.equal(graph.edge_index, again.edge_index)


def test_link_split_keeps_evaluation_edges_out_of_the_training_graph():
    data = LinkPredictionDataModule("Cora")
    train_edges = {tuple(e) for e in data.train_graph.edge_index.T.tolist()}
    test_positive = data.test_graph.edge_label_index[:, data.test_graph.edge_label == 1].T.tolist()
    assert not any(tuple(e) in train_edges or tuple(e[::-1]) in train_edges for e in test_positive)
    assert data.test_graph.edge_label.float().mean() == pytest.approx(0.5)


def test_umls_sizes_and_inverse_edges():
    data = KnowledgeGraphDataModule()
    assert (data.num_entities, data.num_relations) == (135, 46)
    train = data.stages["train"]
    assert train.queries.shape == (5216, 3) and train.edge_index.shape == (2, 2 * 5216)
    assert int(train.edge_type.max()) == 2 * 46 - 1  # inverse relations r + R


def test_inductive_test_graph_has_its_own_entities():
    data = KnowledgeGraphDataModule("fb237_v1", test_dataset="fb237_v1_ind")
    assert data.inductive and data.stages["test"].num_nodes != data.stages["train"].num_nodes
    assert int(data.stages["test"].edge_index.max()) < data.stages["test"].num_nodes


def _write(folder, train, valid, test):
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}.txt").write_text("".join("\t".join(r) + "\n" for r in rows))


def test_unknown_entities_are_reported_and_skipped_or_an_error(tmp_path, capsys):
    train = [("a", "r", "b"), ("b", "r", "c"), ("a", "r", "b")]
    _write(tmp_path / "kg", train, [("a", "r", "c")], [("a", "r", "z"), ("b", "r", "c")])
    data = KnowledgeGraphDataModule(folder=str(tmp_path / "kg"))
    assert data.stages["test"].queries.shape == (1, 3)
    out = capsys.readouterr().out
    assert "1 triples name entities or relations absent from its graph (skipped)" in out
    assert "1 duplicated triples dropped" in out
    with pytest.raises(ValueError, match=r"test\.txt: 1 triples name entities or relations absent"):
        KnowledgeGraphDataModule(folder=str(tmp_path / "kg"), unknown="error")


def test_missing_split_and_bad_lines(tmp_path):
    (tmp_path / "train.txt").write_text("a\tr\tb\n")
    with pytest.raises(FileNotFoundError, match=r"valid\.txt: missing split file"):
        KnowledgeGraphDataModule(folder=str(tmp_path))
    (tmp_path / "bad.txt").write_text("a\tr\tb\nonly two\tfields\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected 3 tab-separated fields, got 2"):
        read_triples(tmp_path / "bad.txt")
    assert torch.is_tensor(torch.tensor(read_triples(tmp_path / "train.txt")[0] == ("a", "r", "b")))


def _pairs(known):
    return {tuple(t) for t in known.tolist()}


@pytest.mark.parametrize("inductive", [False, True], ids=["transductive", "inductive"])
def test_no_validation_or_test_answer_is_known_to_training(inductive):
    """Training negatives are filtered with the training triples alone (the reference's rule): if a
    validation or test triple were in the training filter, its answer could never be a negative, and
    the test labels would shape training."""
    data = (
        KnowledgeGraphDataModule("fb237_v1", test_dataset="fb237_v1_ind")
        if inductive
        else KnowledgeGraphDataModule("UMLS")
    )
    r = data.num_relations
    train = _pairs(both_directions(data.stages["train"].queries, r))
    assert _pairs(data.stages["train"].known) == train
    held_out = _pairs(both_directions(data.stages["val"].queries, r))
    if not inductive:  # transductive test triples live among the training entities
        held_out |= _pairs(both_directions(data.stages["test"].queries, r))
    leaked = (held_out - train) & _pairs(data.stages["train"].known)
    assert held_out - train and not leaked


def test_evaluation_filters_are_the_reference_s():
    transductive = KnowledgeGraphDataModule("UMLS")
    r = transductive.num_relations
    every_split = torch.cat([transductive.stages[s].queries for s in ("train", "val", "test")])
    for stage in ("val", "test"):  # filtered with the whole graph
        assert _pairs(transductive.stages[stage].known) == _pairs(both_directions(every_split, r))
    inductive = KnowledgeGraphDataModule("fb237_v1", test_dataset="fb237_v1_ind")
    r = inductive.num_relations
    train = _pairs(both_directions(inductive.stages["train"].queries, r))
    assert _pairs(inductive.stages["val"].known) == train  # the training graph only
    test = inductive.stages["test"]
    facts = torch.stack([test.edge_index[0], test.edge_type, test.edge_index[1]], 1)
    assert _pairs(test.known) == _pairs(facts)  # the unseen graph's facts only, not the other queries
    assert not _pairs(both_directions(test.queries, r)) <= _pairs(test.known)
