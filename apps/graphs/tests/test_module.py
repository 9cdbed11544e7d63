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
