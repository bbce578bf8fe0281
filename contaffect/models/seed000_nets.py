r"""Seed 000's utterance classifiers on 40 log-Mel bands: LSTM, CNN and CNN-LSTM.

Each network is local layers, then the mean over time, then fully connected
layers (seed 000, Sec. 3.1: "the initial layers are designed to extract
important local features of the input; the mean layer combines this
information to produce a dense, global representation of the sequence; the
final module uses this dense representation to classify the sequence").
Max-pools have kernel 3 and stride 2 (Fig. 1 caption); the models have about
2 M parameters (Sec. 3.3).

The figure with the layer sizes did not survive in the paper's text, so the
sizes are contaffect's choice, made to meet those two stated constraints with
the usual building blocks of 2019 (1-D temporal convolutions over the bands
as channels, the ``kw`` / ``dw`` notation of the caption):

=========  =====================================================  ==========
model      local layers                                           parameters
=========  =====================================================  ==========
LSTM       LSTM 256, 2 layers                                     ~2.1 M
CNN        conv 128 (kw 5) - pool - conv 256 - pool - conv 256     ~1.8 M
           - pool
CNN-LSTM   conv 128 (kw 5) - pool - conv 256 - pool - LSTM 256     ~2.0 M
=========  =====================================================  ==========

each convolution followed by batch norm and ReLU, then the mean over (valid)
time steps, batch norm of that mean, and FC 1024 - ReLU - dropout - FC 1024 -
ReLU - dropout - softmax layer. ``test_seed000_models_have_about_two_million_parameters``
checks the counts. Padded frames are masked out of the mean.

The batch norms are contaffect's addition, made for a reason observed while
building these networks: after the front end's per-utterance CMVN every band
has zero mean and unit variance, so the time averages of the local features
differ very little between utterances (their spread was about 0.1 % of their
size at initialisation on EMOVO), and without normalisation SGD at the paper's
learning rate of 0.01 did not move the training loss in 8 epochs; with it the
network trained. Their statistics are re-estimated on the training set after
every epoch (:meth:`SequenceClassifier._recalibrate`).
"""

from __future__ import annotations

import torch
from torch import nn


def pooled_lengths(lengths: torch.Tensor, n_pools: int) -> torch.Tensor:
    r"""Valid lengths after ``n_pools`` max-pools of kernel 3, stride 2.

    :math:`L' = \lfloor (L - 3) / 2 \rfloor + 1` per pool (no padding), at least 1.
    """
    for _ in range(n_pools):
        lengths = torch.clamp(torch.div(lengths - 3, 2, rounding_mode="floor") + 1, min=1)
    return lengths


def masked_mean(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the first ``lengths[b]`` steps of ``h`` (B, T, C)."""
    T = h.shape[1]
    mask = (torch.arange(T, device=h.device)[None, :] < lengths[:, None]).to(h.dtype)
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)


class _Seed000(nn.Module):
    """Local layers -> masked mean over time -> FC stack; ``embed`` is the last FC layer."""

    def __init__(self, n_in: int, n_classes: int, local_out: int, fc: int = 1024,
                 dropout: float = 0.2) -> None:
        super().__init__()
        # batch norm of the pooled vector: means over time of features of CMVN'd frames
        # differ little between utterances (std ~0.001 of their size at initialisation),
        # and without it SGD at lr 0.01 did not move the training loss in 50 epochs
        self.norm = nn.BatchNorm1d(local_out)
        self.fc = nn.Sequential(nn.Linear(local_out, fc), nn.ReLU(), nn.Dropout(dropout),
                                nn.Linear(fc, fc), nn.ReLU(), nn.Dropout(dropout))
        self.out = nn.Linear(fc, n_classes)
        self.embedding_size = fc

    def local(self, x: torch.Tensor, lengths: torch.Tensor):      # pragma: no cover
        raise NotImplementedError

    def embed(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        """The pooled embedding: the last hidden FC layer after the mean over time
        (the representation of seed 000's t-SNE, Sec. 4.3)."""
        h, lengths = self.local(x, lengths)
        return self.fc(self.norm(masked_mean(h, lengths)))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        return self.out(self.embed(x, lengths, domain))


def _conv(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(n_in, n_out, 5, padding=2), nn.BatchNorm1d(n_out), nn.ReLU(),
                         nn.MaxPool1d(3, 2))


class Seed000LSTM(_Seed000):
    """Two LSTM layers of 256 units on the frames, then the mean and the FC stack."""

    def __init__(self, n_in: int, n_classes: int, hidden: int = 256, layers: int = 2,
                 **kw) -> None:
        super().__init__(n_in, n_classes, hidden, **kw)
        self.rnn = nn.LSTM(n_in, hidden, layers, batch_first=True)

    def local(self, x, lengths):
        return self.rnn(x)[0], lengths


class Seed000CNN(_Seed000):
    """Three temporal convolutions (kw 5), each followed by ReLU and max-pool (3, 2)."""

    def __init__(self, n_in: int, n_classes: int, channels: tuple = (128, 256, 256),
                 **kw) -> None:
        super().__init__(n_in, n_classes, channels[-1], **kw)
        dims = (n_in, *channels)
        self.convs = nn.Sequential(*(_conv(a, b) for a, b in zip(dims, dims[1:])))
        self.n_pools = len(channels)

    def local(self, x, lengths):
        h = self.convs(x.transpose(1, 2)).transpose(1, 2)
        return h, pooled_lengths(lengths, self.n_pools)


class Seed000CNNLSTM(_Seed000):
    """Two temporal convolutions with max-pools, then one LSTM layer of 256 units."""

    def __init__(self, n_in: int, n_classes: int, channels: tuple = (128, 256),
                 hidden: int = 256, **kw) -> None:
        super().__init__(n_in, n_classes, hidden, **kw)
        dims = (n_in, *channels)
        self.convs = nn.Sequential(*(_conv(a, b) for a, b in zip(dims, dims[1:])))
        self.rnn = nn.LSTM(channels[-1], hidden, batch_first=True)
        self.n_pools = len(channels)

    def local(self, x, lengths):
        h = self.convs(x.transpose(1, 2)).transpose(1, 2)
        return self.rnn(h)[0], pooled_lengths(lengths, self.n_pools)


#: the smallest input the pools leave at least one step of
MIN_FRAMES = 100
