"""Graph data: PyG's Planetoid on the cached raw files, knowledge-graph files and their errors."""

import pytest
import torch

from ffn_graphs.data import (
    KnowledgeGraphDataModule,
    LinkPredictionDataModule,
    planetoid,
    read_triples,
)


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
