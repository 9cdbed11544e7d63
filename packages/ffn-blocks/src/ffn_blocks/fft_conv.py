"""Long depthwise (grouped) 1-D convolutions through the FFT, for the CPU.

PyTorch's direct CPU kernels for depthwise convolutions with long kernels run far below the machine's
arithmetic rate, their backward above all. `grouped_conv1d` computes the same correlation as a product
of spectra, with a hand-written backward: the gradients are correlations too, so each is one more
product of spectra. Autograd's generic backward of ``rfft`` would instead run a full complex FFT
of twice the work over a zero-filled buffer.

No explicit zero padding is built: the kernel is laid out circularly so that output ``t`` lands at
index ``t`` of the inverse transform, and the transform length is the smallest 5-smooth number (only
prime factors 2, 3, 5: fast for every FFT library) that avoids wrap-around: ``T + padding`` rather
than the next power of two above ``T + 2·padding`` (1080 instead of 2048 for 999 steps, kernel 39,
dilation 2).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

__all__ = ["FFT_MIN_SPAN", "grouped_conv1d"]

#: kernel spans (``dilation · (k − 1) + 1``) from which the CPU convolutions go through an FFT: measured
#: forward + backward, 8 × 256 channels × 1000 steps, one thread, the FFT path takes 0.48× the direct
#: kernel's time at k = 39 and 0.29× at k = 39 dilated by 2 (0.53× at k = 17 over 1024 channels)
FFT_MIN_SPAN = 16


@functools.lru_cache(maxsize=256)
def fft_length(minimum: int) -> int:
    """The smallest integer ``≥ minimum`` whose only prime factors are 2, 3 and 5."""
    n = max(1, minimum)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _taps(width: int, padding: int, dilation: int, size: int, device: torch.device) -> torch.Tensor:
    """Where tap ``i`` of a kernel sits in its circular layout: ``(padding − i·dilation) mod size``."""
    return (padding - dilation * torch.arange(width, device=device)) % size


def _circular_kernel(weight: torch.Tensor, padding: int, dilation: int, size: int) -> torch.Tensor:
    """``(C, g, size)``: ``weight``'s taps at their `_taps` positions, zeros elsewhere."""
    taps = _taps(weight.shape[-1], padding, dilation, size, weight.device)
    return weight.new_zeros(*weight.shape[:2], size).index_copy_(-1, taps, weight)


class _SpectralCorrelation(torch.autograd.Function):
    """``y[n, c, t] = Σ_j Σ_i w[c, j, i] · x[n, c·g + j, t − padding + i·dilation]`` (zeros outside x)."""

    @staticmethod
    def forward(ctx, x, weight, padding, dilation, out_length):
        channels, group, _ = weight.shape
        size = fft_length(max(x.shape[-1] + padding, dilation * (weight.shape[-1] - 1) + 1))
        spectrum = torch.fft.rfft(x, n=size).unflatten(1, (channels, group))  # (N, C, g, F)
        kernel = torch.fft.rfft(_circular_kernel(weight, padding, dilation, size))  # (C, g, F)
        product = spectrum * kernel
        product = product.squeeze(2) if group == 1 else product.sum(2)  # a sum over one term copies
        out = torch.fft.irfft(product, n=size)[..., :out_length]
        ctx.save_for_backward(spectrum, kernel)
        ctx.shape = (x.shape[-1], padding, dilation, weight.shape[-1], size)
        return out

    @staticmethod
    def backward(ctx, grad):
        spectrum, kernel = ctx.saved_tensors
        length, padding, dilation, width, size = ctx.shape
        grad_spectrum = torch.fft.rfft(grad, n=size)[:, :, None]  # (N, C, 1, F)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.fft.irfft(grad_spectrum * kernel.conj(), n=size)[..., :length].flatten(1, 2)
        if ctx.needs_input_grad[1]:
            cross = torch.fft.irfft((grad_spectrum * spectrum.conj()).sum(0), n=size)  # (C, g, size)
            grad_weight = cross.index_select(-1, _taps(width, padding, dilation, size, cross.device))
        return grad_x, grad_weight, None, None, None


def grouped_conv1d(x: torch.Tensor, weight: torch.Tensor, padding: int, dilation: int = 1) -> torch.Tensor:
    """``F.conv1d(x, weight, padding=padding, dilation=dilation, groups=weight.shape[0])``, no bias.

    Output channel ``c`` sees input channels ``c·g … c·g + g − 1`` (``weight``: ``(C, g, k)``; ``x``:
    ``(N, C·g, T)``). On the CPU in float32/64 with a span of `FFT_MIN_SPAN` or more, the correlation is
    computed as a product of spectra (the same numbers to float rounding, gradients included); elsewhere
    (CUDA's cuDNN kernels are fast, other dtypes) it is ``F.conv1d``.
    """
    channels, _, width = weight.shape
    span = dilation * (width - 1) + 1
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or span < FFT_MIN_SPAN:
        return F.conv1d(x, weight, padding=padding, dilation=dilation, groups=channels)
    out_length = x.shape[-1] + 2 * padding - span + 1
    if out_length < 1:
        raise ValueError(
            f"grouped_conv1d: input of {x.shape[-1]} steps is shorter than the kernel span {span}"
        )
    return _SpectralCorrelation.apply(x, weight, padding, dilation, out_length)
