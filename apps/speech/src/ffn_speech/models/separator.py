"""MossFormer2's time-domain separator, its feed-forward parts injected `ffn_blocks` factories.

From "MossFormer2: Combining Transformer and RNN-Free Recurrent Network for Enhanced Time-Domain
Monaural Speech Separation" (Zhao et al., ICASSP 2024, https://arxiv.org/abs/2312.11825). A learned
encoder (Conv1d 1→N, kernel 16, stride 8, ReLU) turns the waveform into frames; a masking network
estimates one mask per speaker; a transposed convolution decodes each masked representation.

Structure as ClearerVoice-Studio's ``MossFormer2_SS`` (read line by line): the masking network
normalizes the frames with ``GroupNorm(1, N)`` over channels and time, maps them to ``dim`` (1×1, no
bias), adds scaled sinusoidal positions (scale starting at 1), and runs ``num_layers`` pairs of blocks:

- MossFormer block: gated single-head attention with convolution modules. Half of the features are
  shifted one frame back (token shift); projections to ``(v, u)`` and to a shared ``qk`` go through
  ``ffn`` (default: MossFormer's FFConvM, ScaleNorm → Linear → SiLU → depthwise conv k=17 with a skip →
  dropout, `ffn_blocks.ConvFFN`); per-head offsets and scales give the quadratic and linear queries and
  keys, whose first 32 features are rotated by position (rotary embedding, one per stack); quadratic
  ReLU² attention runs within chunks of ``group_size`` frames, linear attention over the whole sequence;
  the output gate is ``(att_u ⊙ v) ⊙ σ(att_v ⊙ u)``, projected back by ``ffn`` with a residual.
- Gated-FSMN block (the RNN-free recurrent module): a bottleneck ``dim → inner`` with PReLU and
  LayerNorm, the ``memory`` factory (default `ffn_blocks.GatedConvUnit`: two gated branches and a
  dilated dense FSMN memory with kernel 39 and dilations 1, 2), LayerNorm, projection back, residual.

The stack ends in a LayerNorm, then ``GroupNorm(1, dim)``, plus a skip from the stack's input. The mask
head: PReLU, a 1×1 map to ``dim`` per speaker, the gated ``tanh · sigmoid`` output, a 1×1 map to the
encoder's ``N`` channels (no bias), ReLU. At the full config this is the official model's
55,735,410 parameters (the paper's 55.7 M); loaded with the official weights
(`load_clearvoice_state_dict`) it computes the official outputs. ``rotary=False`` and ``token_shift=False``
are ablations; ``pad_tail=True`` (a deviation) also estimates the last ``< stride`` samples.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ffn_blocks import ConvFFN, Dropout, FeedForwardFactory, GatedConvUnit

__all__ = ["GatedFSMNBlock", "MossFormer2Separator", "MossFormerAttention", "RotaryEmbedding", "ScaleNorm"]


class ScaleNorm(nn.Module):
    """``g · x / max(‖x‖ / √d, eps)``: one learned gain (MossFormer2's attention projections' norm)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale, self.eps = dim**-0.5, eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # the gain folded into the per-row factor
        return x * (self.g / (x.norm(dim=-1, keepdim=True) * self.scale).clamp(min=self.eps))


class RotaryEmbedding(nn.Module):
    """Rotary positions on the first ``dim`` features (interleaved pairs), as ``rotary_embedding_torch``.

    Feature pair ``(2i, 2i+1)`` at frame ``t`` is rotated by ``t · θ^(−2i/dim)`` (θ = 10000); features past
    ``dim`` pass unchanged. The frequencies are a fixed, non-trainable parameter (as the reference's).
    """

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        self.freqs = nn.Parameter(1.0 / theta ** (torch.arange(0, dim, 2).float() / dim), requires_grad=False)

    def tables(self, length: int, width: int, dtype: torch.dtype, device: torch.device):
        """``(cos, signed_sin)``, each ``(length, width)``: ``rotate(x) = x·cos + swap_pairs(x)·signed_sin``.

        ``signed_sin`` holds ``(−sin, sin)`` per pair; past the rotated features cos is 1 and sin 0."""
        angles = torch.arange(length, device=device, dtype=self.freqs.dtype)[:, None] * self.freqs
        angles = angles.repeat_interleave(2, dim=-1).to(dtype)  # (T, rot)
        signs = torch.tensor([-1.0, 1.0], dtype=dtype, device=device).repeat(angles.shape[-1] // 2)
        rest = width - angles.shape[-1]
        return F.pad(angles.cos(), (0, rest), value=1.0), F.pad(angles.sin() * signs, (0, rest))

    def swap_pairs(self, x: torch.Tensor) -> torch.Tensor:
        """``(x₂ᵢ, x₂ᵢ₊₁) → (x₂ᵢ₊₁, x₂ᵢ)`` on the rotated features (all pairs when the width is even)."""
        rot = self.freqs.shape[0] * 2
        if x.shape[-1] % 2 == 0:  # the features past rot meet a zero sin: swapping them is harmless
            return x.unflatten(-1, (-1, 2)).roll(1, -1).flatten(-2)  # roll beats flip and stack here
        return torch.cat((self.swap_pairs(x[..., :rot]), x[..., rot:]), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (*, T, d)
        cos, signed_sin = self.tables(x.shape[-2], x.shape[-1], x.dtype, x.device)
        return torch.addcmul(x * cos, self.swap_pairs(x), signed_sin)


def _default_ffn(dropout: float) -> FeedForwardFactory:
    return partial(ConvFFN, act=nn.SiLU, norm=ScaleNorm, dropout=dropout, kernel_size=17)


def _default_memory(dropout: float) -> FeedForwardFactory:
    return partial(
        GatedConvUnit,
        act=nn.SiLU,
        norm=nn.LayerNorm,
        dropout=dropout,
        kernel_size=17,
        memory_kernel_size=39,
        dilations=(1, 2),
    )


class OffsetScale(nn.Module):
    """``heads`` cheap per-dimension affine copies of one shared ``qk`` projection (FLASH's trick)."""

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.empty(heads, dim).normal_(std=0.02))
        self.beta = nn.Parameter(torch.zeros(heads, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (x[..., None, :] * self.gamma + self.beta).unbind(dim=-2)


class MossFormerAttention(nn.Module):
    """Gated single-head attention, local quadratic (within chunks) plus global linear, with residual.

    Shape:
        - Input / output: ``(B, T, dim)``
    """

    def __init__(
        self,
        dim: int,
        *,
        ffn: FeedForwardFactory,
        expansion: float = 4.0,
        qk_dim: int = 128,
        group_size: int = 256,
        dropout: float = 0.1,
        rotary: RotaryEmbedding | None = None,
        token_shift: bool = True,
    ) -> None:
        super().__init__()
        hidden = 2 * max(1, int(dim * expansion) // 2)
        self.group_size, self.rotary, self.token_shift = group_size, rotary, token_shift
        self.to_hidden = ffn(dim, hidden)
        self.to_qk = ffn(dim, qk_dim)
        self.offset_scale = OffsetScale(qk_dim, heads=4)
        self.to_out = ffn(hidden // 2, dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.token_shift:  # the first half of the features from the previous frame
            shifted, kept = x.split([x.shape[-1] // 2, x.shape[-1] - x.shape[-1] // 2], dim=-1)
            h = torch.cat((F.pad(shifted, (0, 0, 1, -1)), kept), dim=-1)
        vu = self.to_hidden(h)  # (B, T, 2e): v then u, attended together in one product each
        quad_q, lin_q, quad_k, lin_k = self._queries_keys(self.to_qk(h))
        att_v, att_u = self._attend(quad_q, lin_q, quad_k, lin_k, vu).chunk(2, dim=-1)
        v, u = vu.chunk(2, dim=-1)
        return x + self.to_out((att_u * v) * torch.sigmoid(att_v * u))

    def _queries_keys(self, qk: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The four rotated offset-scale heads of ``qk``. The rotation is linear, so
        ``R(qk·γ + β) = qk·(γ cos) + swap(qk)·(swap(γ) sin±) + R(β)``: two passes over ``(B, T, 4, d)``
        with ``(T, 4, d)`` tables, instead of the offset-scale pass and a rotation per head."""
        if self.rotary is None:
            return self.offset_scale(qk)
        cos, sin = (t[:, None] for t in self.rotary.tables(qk.shape[-2], qk.shape[-1], qk.dtype, qk.device))
        gamma, beta, swap = self.offset_scale.gamma, self.offset_scale.beta, self.rotary.swap_pairs
        shift = torch.addcmul(cos * beta, sin, swap(beta))  # R(β): (T, 4, d)
        heads = torch.addcmul(shift, qk[..., None, :], cos * gamma)
        return torch.addcmul(heads, swap(qk)[..., None, :], sin * swap(gamma)).unbind(-2)

    def _attend(self, quad_q, lin_q, quad_k, lin_k, values):
        b, n, g = values.shape[0], values.shape[1], self.group_size
        linear = lin_q @ (lin_k.transpose(-1, -2) @ values / n)  # global: over the whole sequence
        pad = (-n) % g
        if pad:  # zero keys and values add nothing to the chunks' attention
            quad_q, quad_k, values = (F.pad(t, (0, 0, 0, pad)) for t in (quad_q, quad_k, values))
        quad_q, quad_k, values = (t.reshape(b, -1, g, t.shape[-1]) for t in (quad_q, quad_k, values))
        attn = self.dropout(F.relu((quad_q / g) @ quad_k.transpose(-1, -2)).square())  # (b, G, g, g)
        return (attn @ values).flatten(1, 2)[:, :n] + linear


class GatedFSMNBlock(nn.Module):
    """``x + W_out · LN(memory(LN(PReLU(W_in x))))`` with a ``dim → inner`` bottleneck.

    Shape:
        - Input / output: ``(B, T, dim)``
    """

    def __init__(self, dim: int, inner: int, *, memory: FeedForwardFactory) -> None:
        super().__init__()
        self.down = nn.Linear(dim, inner)
        self.act = nn.PReLU()
        self.norm1 = nn.LayerNorm(inner)
        self.memory = memory(inner, inner)
        self.norm2 = nn.LayerNorm(inner)
        self.up = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.norm2(self.memory(self.norm1(self.act(self.down(x))))))


class ScaledSinusoidalPosition(nn.Module):
    """Sinusoidal positions times a learned scale (starting at 1, as the reference's), added to the frames."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.register_buffer(
            "inv_freq", 1.0 / 10000 ** (torch.arange(0, dim, 2).float() / dim), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)
        angles = t[:, None] * self.inv_freq[None, :].to(x.dtype)
        return x + torch.cat([angles.sin(), angles.cos()], dim=-1)[:, : x.shape[-1]] * self.scale


class MossFormer2Separator(nn.Module):
    """Encoder → masking network (MossFormer + gated-FSMN blocks) → masks → decoder.

    Args:
        num_speakers: sources to separate.
        encoder_dim: N, encoder filters.
        dim: width of the masking network.
        num_layers: MossFormer + gated-FSMN block pairs (paper: 24).
        kernel_size: encoder kernel (paper: 16).
        stride: encoder stride (paper: 8).
        ffn: factory of the attention projections (None: MossFormer's ConvFFN with SiLU, LayerNorm, k=17).
        memory: factory of the recurrent module's memory (None: `GatedConvUnit` with kernel 39, dilations
            1 and 2).
        expansion: width of the attention's value/gate projection, as a multiple of ``dim`` (paper: 4).
        qk_dim: shared query/key width (paper: 128).
        group_size: chunk length of the quadratic attention (paper: 256).
        inner_dim: bottleneck of the gated-FSMN blocks (paper: 256).
        dropout: dropout of the projections (paper: 0.1).
        rotary: rotary positions on the attention's first ``min(32, qk_dim)`` query/key features.
        token_shift: shift half of the attention input's features by one frame.
        pad_tail: zero-pad the input so the encoder's frames cover its last samples. Off, as the
            official code: the frames end where the next full kernel would not fit, and the up to
            ``stride - 1`` samples after them come out as zeros.

    Shape:
        - Input: ``(B, L)`` waveform
        - Output: ``(B, num_speakers, L)``
    """

    def __init__(
        self,
        num_speakers: int = 2,
        *,
        encoder_dim: int = 512,
        dim: int = 512,
        num_layers: int = 24,
        kernel_size: int = 16,
        stride: int = 8,
        ffn: FeedForwardFactory | None = None,
        memory: FeedForwardFactory | None = None,
        expansion: float = 4.0,
        qk_dim: int = 128,
        group_size: int = 256,
        inner_dim: int = 256,
        dropout: float = 0.1,
        rotary: bool = True,
        token_shift: bool = True,
        pad_tail: bool = False,
    ) -> None:
        super().__init__()
        ffn = ffn or _default_ffn(dropout)
        memory = memory or _default_memory(dropout)
        self.num_speakers, self.kernel_size, self.stride = num_speakers, kernel_size, stride
        self.pad_tail = pad_tail
        self.encoder = nn.Conv1d(1, encoder_dim, kernel_size, stride=stride, bias=False)
        self.input_norm = nn.GroupNorm(1, encoder_dim, eps=1e-8)  # over channels and time
        self.bottleneck = nn.Linear(encoder_dim, dim, bias=False)
        self.position = ScaledSinusoidalPosition(dim)
        self.rotary = RotaryEmbedding(min(32, qk_dim)) if rotary else None
        self.blocks = nn.ModuleList()
        for _ in range(num_layers):
            self.blocks.append(
                MossFormerAttention(
                    dim,
                    ffn=ffn,
                    expansion=expansion,
                    qk_dim=qk_dim,
                    group_size=group_size,
                    dropout=dropout,
                    rotary=self.rotary,
                    token_shift=token_shift,
                )
            )
            self.blocks.append(GatedFSMNBlock(dim, inner_dim, memory=memory))
        self.stack_norm = nn.LayerNorm(dim, eps=1e-6)
        self.output_norm = nn.GroupNorm(1, dim, eps=1e-8)
        self.output_act = nn.PReLU()
        self.to_masks = nn.Linear(dim, dim * num_speakers)
        self.mask_tanh = nn.Linear(dim, dim)
        self.mask_gate = nn.Linear(dim, dim)
        self.mask_out = nn.Linear(dim, encoder_dim, bias=False)
        self.decoder = nn.ConvTranspose1d(encoder_dim, 1, kernel_size, stride=stride, bias=False)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        if mixture.ndim != 2:
            raise ValueError(
                f"MossFormer2Separator: expected a waveform batch (B, L), got {tuple(mixture.shape)}"
            )
        length = mixture.shape[-1]
        minimum = self.kernel_size + self.stride  # two frames: the FSMN memory's instance norm needs T >= 2
        if length < minimum:
            raise ValueError(
                f"MossFormer2Separator: input of {length} samples is shorter than the minimum of {minimum}"
            )
        pad = (-(length - self.kernel_size)) % self.stride if self.pad_tail else 0
        frames = F.relu(self.encoder(F.pad(mixture, (0, pad))[:, None]))  # (B, N, T)
        x = self.position(self.bottleneck(self.input_norm(frames).transpose(1, 2)))  # (B, T, dim)
        h = x
        for block in self.blocks:
            h = block(h)
        h = self.output_norm(self.stack_norm(h).transpose(1, 2)).transpose(1, 2) + x  # skip around the stack
        masks = self.to_masks(self.output_act(h)).unflatten(-1, (self.num_speakers, -1))  # (B, T, S, dim)
        # the head is position-wise: it runs in this layout, its tanh and gate maps as one product
        weight = torch.cat((self.mask_tanh.weight, self.mask_gate.weight))
        pre_tanh, pre_gate = F.linear(
            masks, weight, torch.cat((self.mask_tanh.bias, self.mask_gate.bias))
        ).chunk(2, -1)
        masks = F.relu(self.mask_out(torch.tanh(pre_tanh) * torch.sigmoid(pre_gate)))  # (B, T, S, N)
        separated = frames[:, None] * masks.permute(0, 2, 3, 1)  # (B, S, N, T)
        b, s = separated.shape[:2]
        waves = self.decoder(separated.reshape(b * s, *separated.shape[2:])).reshape(b, s, -1)
        return F.pad(waves, (0, max(0, length - waves.shape[-1])))[..., :length]


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
