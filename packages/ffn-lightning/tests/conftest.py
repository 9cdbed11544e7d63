"""A toy regression app used to exercise the shared CLI and callbacks end to end."""

import pytest
import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch.utils.data import DataLoader, TensorDataset

from ffn_blocks import MLP, FeedForwardFactory


class ToyRegressor(LightningModule):
    """Fits y = sin(x·u) with one injected feed-forward block."""

    def __init__(self, ffn: FeedForwardFactory = MLP, width: int = 8, lr: float = 1e-2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.block = ffn(width, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.block(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class ToyData(LightningDataModule):
    def __init__(self, width: int = 8, batch_size: int = 16) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(128, width, generator=gen)
        self.dataset = TensorDataset(x, torch.sin(x.sum(-1, keepdim=True)))
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)


@pytest.fixture
def toy():
    """The toy app's classes (conftest modules are not importable under --import-mode=importlib)."""
    return ToyRegressor, ToyData


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
