"""Graph LightningModules learn on the real data."""

from functools import partial

import torch
from lightning.pytorch import Trainer, seed_everything

from ffn_graphs.data import KnowledgeGraphDataModule, LinkPredictionDataModule, PlanetoidDataModule
from ffn_graphs.module import KGCompletion, LinkPredictor, NodeClassifier

QUIET = {
    "logger": False,
    "enable_progress_bar": False,
    "enable_checkpointing": False,
    "enable_model_summary": False,
}


def test_gcn_learns_cora():
    seed_everything(0)
    data = PlanetoidDataModule("Cora")
    model = NodeClassifier(
        data.num_features,
        data.num_classes,
        hidden_features=32,
        optimizer=partial(torch.optim.Adam, lr=0.01, weight_decay=5e-4),
    )
    trainer = Trainer(max_epochs=60, **QUIET)
    trainer.fit(model, data)
    assert model.variances is not None  # Virgo ran, with the training graph's statistics
    assert trainer.test(model, data, verbose=False)[0]["test/acc"] > 0.75


def test_link_predictor_beats_chance_on_cora():
    seed_everything(0)
    data = LinkPredictionDataModule("Cora")
    model = LinkPredictor(data.num_features, optimizer=partial(torch.optim.Adam, lr=0.01))
    trainer = Trainer(max_epochs=40, **QUIET)
    trainer.fit(model, data)
    assert trainer.test(model, data, verbose=False)[0]["test/auroc"] > 0.8


def test_nbfnet_steps_reduce_the_loss_on_umls():
    seed_everything(0)
    data = KnowledgeGraphDataModule(batch_size=16, eval_batch_size=16)
    model = KGCompletion(
        data.num_relations, dim=16, num_layers=3, optimizer=partial(torch.optim.Adam, lr=5e-3)
    )
    losses = []

    from lightning.pytorch import Callback

    class Losses(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    trainer = Trainer(
        max_epochs=1, limit_train_batches=12, limit_val_batches=0, callbacks=[Losses()], **QUIET
    )
    trainer.fit(model, data)
    assert sum(losses[-4:]) < sum(losses[:4])
    result = Trainer(limit_test_batches=2, **QUIET).test(model, data, verbose=False)[0]
    assert 0 < result["test/mrr"] <= 1 and result["test/hits@10"] >= result["test/hits@1"]


def test_an_nbfnet_training_step_is_the_references_batch(monkeypatch):
    """One query per triple (tails of the first half, heads of the rest), and under ``remove_one_hop``
    no edge left between a query's head and any of the candidates it is scored on (answer or negative)."""
    from ffn_graphs.kg import sample_negatives, true_tail_mask

    seed_everything(0)
    data = KnowledgeGraphDataModule(batch_size=16, eval_batch_size=16)
    data.setup("fit")
    model = KGCompletion(data.num_relations, dim=8, num_layers=2, remove_one_hop=True)
    seen = {}

    def score(queries, graph, edge_index, edge_type):
        seen.update(queries=queries, edge_index=edge_index)
        return torch.zeros(len(queries), graph.num_nodes, requires_grad=True)

    monkeypatch.setattr(model, "_score", score)
    monkeypatch.setattr(model, "_stage", lambda stage: data.stages[stage])
    monkeypatch.setattr(model, "log", lambda *args, **kwargs: None)
    draw = torch.Generator().set_state(model.generator.get_state())  # replays the step's negatives
    batch = next(iter(data.train_dataloader()))
    model.training_step(batch, 0)
    triples, r, queries = batch[0], data.num_relations, seen["queries"]
    assert queries[:8].tolist() == triples[:8].tolist()
    assert queries[8:].tolist() == (triples[8:, [2, 1, 0]] + torch.tensor([0, r, 0])).tolist()
    graph = data.stages["train"]
    negatives = sample_negatives(
        true_tail_mask(queries, graph.known, graph.num_nodes), model.hparams.num_negatives, draw
    )
    pairs = set(map(tuple, graph.edge_index.T.tolist()))
    left = set(map(tuple, seen["edge_index"].T.tolist()))
    touching = {
        pair
        for h, row in zip(
            queries[:, 0].tolist(), torch.cat([queries[:, 2:], negatives], 1).tolist(), strict=True
        )
        for c in row
        for pair in ((h, c), (c, h))
    }
    assert pairs & touching - {(h, t) for h, _, t in queries.tolist()}  # negatives had edges to lose
    assert not left & touching
    assert left == pairs - touching  # and nothing else went
