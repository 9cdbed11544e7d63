"""NerVE metrics: known answers on constructed spectra, rotation invariance, streaming = batch."""

import math

import pytest
import torch

from ffn_blocks.spectral import (
    StreamingCovariance,
    early_enrichment,
    eigenvalues,
    js_divergence,
    participation_ratio,
    spectral_entropy,
    spectral_metrics,
)


def test_isotropic_spectrum():
    values = torch.ones(64)
    assert spectral_entropy(values) == pytest.approx(math.log(64))
    assert participation_ratio(values) == pytest.approx(64)
    assert early_enrichment(values) == pytest.approx(0.0, abs=1e-12)


def test_rank_one_spectrum():
    values = torch.zeros(64)
    values[0] = 3.0
    assert spectral_entropy(values) == pytest.approx(0.0)
    assert participation_ratio(values) == pytest.approx(1.0)
    assert early_enrichment(values) == pytest.approx(1.0)


def test_rank_k_spectrum():
    values = torch.cat([torch.ones(8), torch.zeros(56)])
    assert spectral_entropy(values) == pytest.approx(math.log(8))
    assert participation_ratio(values) == pytest.approx(8)
    assert 0.0 < early_enrichment(values) < 1.0


def test_isotropic_activations_have_full_effective_dimension():
    x = torch.randn(200_000, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    values = eigenvalues(StreamingCovariance(16).update(x).covariance())
    assert participation_ratio(values) == pytest.approx(16, rel=1e-2)
    assert spectral_entropy(values) == pytest.approx(math.log(16), rel=1e-3)


def test_metrics_are_invariant_to_rotating_the_activations():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5000, 12, generator=gen, dtype=torch.float64) * torch.linspace(
        0.1, 3, 12, dtype=torch.float64
    )
    rotation, _ = torch.linalg.qr(torch.randn(12, 12, generator=gen, dtype=torch.float64))
    a = spectral_metrics(eigenvalues(StreamingCovariance(12).update(x).covariance()))
    b = spectral_metrics(eigenvalues(StreamingCovariance(12).update(x @ rotation).covariance()))
    assert a == pytest.approx(b, rel=1e-9)


def test_streaming_equals_batch_covariance():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1000, 7, generator=gen, dtype=torch.float64) * 3 + torch.arange(7, dtype=torch.float64)
    streaming = StreamingCovariance(7)
    for chunk in x.split(37):  # uneven chunks
        streaming.update(chunk)
    torch.testing.assert_close(streaming.covariance(unbiased=True), torch.cov(x.T))
    halves = StreamingCovariance(7).update(x[:300]).merge(StreamingCovariance(7).update(x[300:]))
    torch.testing.assert_close(halves.covariance(), streaming.covariance())


def test_js_divergence_bounds():
    a = torch.tensor([4.0, 2.0, 1.0, 1.0])
    assert js_divergence(a, 2 * a) == pytest.approx(0.0, abs=1e-12)  # scale-free
    assert js_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])) == pytest.approx(
        0.0
    )  # sorted spectra
    one_hot, flat = torch.tensor([1.0, 0, 0, 0]), torch.ones(4)
    assert 0.0 < js_divergence(one_hot, flat) < math.log(2)


def test_bad_input():
    with pytest.raises(
        ValueError, match=r"StreamingCovariance: expected samples of shape \(\*, 4\), got \(3, 5\)"
    ):
        StreamingCovariance(4).update(torch.randn(3, 5))
    with pytest.raises(ValueError, match="positive total variance"):
        spectral_entropy(torch.zeros(4))
    with pytest.raises(ValueError, match="spectra differ in length"):
        js_divergence(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="covariance needs samples, have 0"):
        StreamingCovariance(3).covariance()
