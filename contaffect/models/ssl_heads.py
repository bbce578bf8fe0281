r"""Seed 004's utterance heads on self-supervised speech representations (HuBERT, wav2vec 2.0).

Seed 004 (Sec. 4.2 and 5) classifies sequences of HuBERT frames (50 Hz) with
three downstream networks, run in the SUPERB framework (Yang et al., "SUPERB:
Speech processing Universal PERformance Benchmark", Interspeech 2021):

- :class:`MeanPoolLinear`: the mean of the frames, then a linear layer ("a
  pooling of the sequence of HuBERT vectors followed by a linear layer, to
  get a basic accuracy using the most simple classifier");
- :class:`CNNSelfAttention`: a fully connected layer adapting the input width
  to the network's (256), a block of dropout - convolution (kernel 5) - ReLU
  repeated twice, self-attention pooling, then FC - ReLU - FC;
- :class:`ClassTokenTransformer`: the "CT-Transformer", after the Vision
  Transformer: a learnt class token before the projected frames, sinusoidal
  positions, two encoder layers with six heads; the class token's output is
  the utterance.

Layer weighting (SUPERB's featurizer). A frame may hold :math:`L` layers of
the upstream model side by side, :math:`x_t = [x_t^{(0)} | \dots | x_t^{(L-1)}]`
(:attr:`contaffect.features.sequences.Sequences.layers`). With :math:`L > 1`
every head first takes the softmax-weighted sum

.. math::
   \tilde x_t = \sum_{l=0}^{L-1} \frac{\exp w_l}{\sum_k \exp w_k}\, x_t^{(l)},

with learnt :math:`w` initialised to zero (equal weights), and works on
:math:`\tilde x_t` of width :math:`d = n_{in} / L` (:class:`WeightedLayerSum`).
With :math:`L = 1` there is no such parameter.

Padding. Batches are zero-padded to their longest utterance; every head
ignores the padded frames, so an utterance's scores do not depend on the batch
it is in (the mean and the attention run over valid frames only, the
convolutions see zeros past the end as they would alone, the transformer's
keys are masked).

Sizes not stated in the paper are contaffect's choice and marked as such in
each class. The networks follow the interface
:class:`~contaffect.models.sequence_classifier.SequenceClassifier` expects:
``forward(x, lengths, domain)`` gives logits, ``embed(x, lengths, domain)``
the pooled utterance vector of ``embedding_size`` values; they have one
branch (``domain`` is accepted and ignored) and no batch norms.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from contaffect.models.seed000_nets import masked_mean


def valid_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """Boolean ``(B, T)``: True on the first ``lengths[b]`` steps of each row."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


class WeightedLayerSum(nn.Module):
    r"""Softmax-weighted sum of ``layers`` stacked layers (SUPERB's featurizer).

    :math:`\tilde x_t = \sum_l \operatorname{softmax}(w)_l\, x_t^{(l)}`, where
    :math:`x_t^{(l)}` is the ``l``-th block of ``n_in / layers`` columns
    (Yang et al., Interspeech 2021: the upstream's hidden states are
    combined with learnable weights; seed 004 runs its heads in SUPERB).

    Parameters
    ----------
    n_in
        Frame width, ``layers`` blocks of one layer each.
    layers
        Number of stacked layers (at least 2 for this module to make sense).

    Attributes
    ----------
    weights
        The logits :math:`w` ``(layers,)``, initialised to zero (equal weights).
    """

    def __init__(self, n_in: int, layers: int) -> None:
        super().__init__()
        if layers < 1 or n_in % layers:
            raise ValueError(f"{n_in} features do not split into {layers} layers")
        self.layers, self.width = int(layers), n_in // int(layers)
        self.weights = nn.Parameter(torch.zeros(self.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, L d)`` -> ``(B, T, d)``."""
        B, T, _ = x.shape
        a = torch.softmax(self.weights, 0)
        return torch.einsum("btld,l->btd", x.reshape(B, T, self.layers, self.width), a)

    def normalised(self) -> torch.Tensor:
        """The layer weights :math:`\\operatorname{softmax}(w)` (sum 1)."""
        return torch.softmax(self.weights.detach(), 0)


class _SSLHead(nn.Module):
    """Layer weighting (when ``layers > 1``), then ``pool``, then ``out``."""

    def __init__(self, n_in: int, layers: int) -> None:
        super().__init__()
        if layers < 1 or n_in % layers:
            raise ValueError(f"{n_in} features do not split into {layers} layers")
        self.n_layers = int(layers)
        self.layer_sum = WeightedLayerSum(n_in, layers) if layers > 1 else None
        self.d = n_in // int(layers)

    def featurize(self, x: torch.Tensor) -> torch.Tensor:
        """The frames of one (weighted) layer, ``(B, T, d)``."""
        return x if self.layer_sum is None else self.layer_sum(x)

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def embed(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        """The pooled utterance vector ``(B, embedding_size)`` of frames ``x`` ``(B, T, n_in)``.

        Parameters
        ----------
        x
            Zero-padded frames.
        lengths
            Valid frames per row (at least 1).
        domain
            Ignored: the heads have one branch.
        """
        return self.pool(self.featurize(x), lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        """Class logits ``(B, n_classes)`` (see :meth:`embed` for the arguments)."""
        return self.out(self.embed(x, lengths, domain))


class MeanPoolLinear(_SSLHead):
    r"""Mean over the valid frames, then one linear layer (seed 004's "LinearLayer").

    :math:`z = W \bar x + b`, :math:`\bar x = \frac1T \sum_{t<T} \tilde x_t`.
    SUPERB's emotion recipe puts a linear projection (256) before the mean;
    a linear map, the mean and a linear map compose to one affine map of
    :math:`\bar x`, so the model is the same and the projection is left out.

    Parameters
    ----------
    n_in, n_classes
        Frame width (``layers`` blocks) and classes.
    layers
        Stacked layers per frame (:class:`WeightedLayerSum` when above 1).
    """

    def __init__(self, n_in: int, n_classes: int, *, layers: int = 1) -> None:
        super().__init__(n_in, layers)
        self.out = nn.Linear(self.d, n_classes)
        self.embedding_size = self.d

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The mean of the valid frames (the utterance embedding)."""
        return masked_mean(h, lengths)


class AttentionPool(nn.Module):
    r"""Self-attention pooling: a learnt score per frame, softmax over the valid frames.

    :math:`e_t = u^\top h_t + c`, :math:`\alpha_t = \exp e_t / \sum_{s<T} \exp e_s`
    over the valid frames, output :math:`\sum_t \alpha_t h_t`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.score = nn.Linear(channels, 1)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)``, valid lengths -> ``(B, C)``."""
        e = self.score(h).squeeze(-1)
        e = e.masked_fill(~valid_mask(lengths, h.shape[1]), float("-inf"))
        return torch.einsum("bt,btc->bc", torch.softmax(e, 1), h)


class CNNSelfAttention(_SSLHead):
    r"""Seed 004's CNN with self-attention pooling (Sec. 4.2.2).

    .. math::
       h^{(0)}_t &= W_{in} \tilde x_t + b_{in}, \\
       h^{(k)} &= \operatorname{ReLU}(\operatorname{conv}_5(\operatorname{dropout}(h^{(k-1)}))),
       \quad k = 1, 2, \\
       c &= \textstyle\sum_t \alpha_t h^{(2)}_t, \\
       z &= W_2 \operatorname{ReLU}(W_1 c + b_1) + b_2,

    with the attention weights :math:`\alpha_t` of :class:`AttentionPool`.

    The paper: "a fully connected layer that adapts the size of the input to
    the size of the network" (``hidden``: 256, its "number of layers in the
    classifier", raised to 512 in an auxiliary run, Sec. 5, read as the
    width), "a block repeated twice composed of dropout, five convolutional
    layers, and a non-linearity ReLU" (read as one convolution of kernel 5,
    the SUPERB model's kernel), and an output block ending in "fully
    connected, ReLU, and a final fully connected layer". The self-attention
    pooling before the output layers is the "secondary branch [...] multiplied
    by the result of the primary one" of Sec. 4.2.2; the dropout and
    convolution the paper also lists at the start of its output block are
    not repeated here (a third such block). The convolutions keep the width
    and the length (padding 2); before each one the padded frames are set to
    zero, so that a valid frame near the end sees what it would see alone.
    The hidden FC layer of the output block has ``hidden`` units
    (contaffect's choice).

    Parameters
    ----------
    n_in, n_classes
        Frame width (``layers`` blocks) and classes.
    layers
        Stacked layers per frame.
    hidden
        Network width (paper: 256).
    kernel
        Convolution width in frames (paper: 5).
    dropout
        Dropout before each convolution.
    """

    def __init__(self, n_in: int, n_classes: int, *, layers: int = 1, hidden: int = 256,
                 kernel: int = 5, dropout: float = 0.2) -> None:
        super().__init__(n_in, layers)
        if kernel % 2 != 1:
            raise ValueError(f"the convolution kernel must be odd, got {kernel}")
        self.project = nn.Linear(self.d, hidden)
        self.drops = nn.ModuleList(nn.Dropout(dropout) for _ in range(2))
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
                                   for _ in range(2))
        self.attention = AttentionPool(hidden)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))
        self.embedding_size = hidden

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The attention-pooled output of the convolutions (the utterance embedding)."""
        keep = valid_mask(lengths, h.shape[1]).to(h.dtype)[..., None]
        h = self.project(h) * keep
        for drop, conv in zip(self.drops, self.convs):
            h = torch.relu(conv(drop(h).transpose(1, 2)).transpose(1, 2)) * keep
        return self.attention(h, lengths)


def sinusoidal_positions(T: int, dim: int, device=None) -> torch.Tensor:
    r"""Sinusoidal position codes ``(T, dim)`` (Vaswani et al. 2017).

    :math:`P_{t, 2i} = \sin(t / 10000^{2i/D})`, :math:`P_{t, 2i+1} = \cos(t / 10000^{2i/D})`:
    defined for every length, as the utterances' lengths vary.
    """
    t = torch.arange(T, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device)
                     * (-math.log(10000.0) / dim))
    P = torch.zeros(T, dim, device=device)
    P[:, 0::2] = torch.sin(t * freq)
    P[:, 1::2] = torch.cos(t * freq)[:, :dim // 2]
    return P


class ClassTokenTransformer(_SSLHead):
    r"""Seed 004's CT-Transformer (Sec. 4.2.3), after the Vision Transformer.

    .. math::
       e_t &= W_{in} \tilde x_t + b_{in} + P_t, \qquad t = 0 \dots T-1, \\
       [g_{cls}, g_0, \dots] &= \operatorname{Encoder}([c, e_0, \dots, e_{T-1}]), \\
       z &= W_{out} \operatorname{LN}(g_{cls}) + b_{out},

    with a learnt class token :math:`c`, sinusoidal codes :math:`P`
    (:func:`sinusoidal_positions`; the class token, learnt, gets none) and an
    encoder of ``n_layers`` (paper: 2) pre-norm layers of multi-head
    self-attention with ``heads`` (paper: 6) heads and a feed-forward block; the
    padded frames are masked out of the keys. The model width ``d_model``
    must be a multiple of ``heads``; the default 384 = 6 x 64 is contaffect's
    choice (64 per head as in ViT-Base and the Transformer), as are the ViT
    details the paper leaves open: pre-norm layers with GELU, a feed-forward
    width of 4 ``d_model``, a final layer norm, class token drawn from N(0, 0.02^2),
    the output layer initialised to zero (ViT's head; it also keeps Adam's first
    steps from overshooting on large initial logits, seen on toy data).

    Parameters
    ----------
    n_in, n_classes
        Frame width (``layers`` blocks) and classes.
    layers
        Stacked layers per frame (of the input, not of the encoder).
    d_model
        Model width.
    heads, n_layers
        Attention heads and encoder layers (paper: 6 and 2).
    ff_factor
        Feed-forward width as a multiple of ``d_model``.
    dropout
        Dropout inside the encoder layers.
    """

    def __init__(self, n_in: int, n_classes: int, *, layers: int = 1, d_model: int = 384,
                 heads: int = 6, n_layers: int = 2, ff_factor: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__(n_in, layers)
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not a multiple of {heads} heads")
        self.project = nn.Linear(self.d, d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_factor * d_model, dropout,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, n_classes)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.embedding_size = d_model

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The class token's encoder output after the final layer norm (the embedding)."""
        B, T, _ = h.shape
        e = self.project(h) + sinusoidal_positions(T, self.project.out_features, h.device)
        e = torch.cat([self.cls.expand(B, -1, -1), e], 1)
        pad = torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=h.device),
                         ~valid_mask(lengths, T)], 1)
        return self.norm(self.encoder(e, src_key_padding_mask=pad)[:, 0])
