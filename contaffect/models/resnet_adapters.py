r"""Seed 001's ResNet with parallel residual adapters and 2-D attention pooling (EmoNet).

Architecture (Gerczuk et al., "EmoNet", IEEE TAC, Sec. 5.2.1):

- a 3x3 convolution of 32 filters (stride 1) and batch norm;
- three stacks of two residual blocks with 64, 128 and 256 filters; the
  first block of a stack has stride 2 and a shortcut that average-pools the
  input (2x2, stride 2) and zero-pads it along the filters; a block is
  conv - BN - ReLU - conv - BN, plus the shortcut, then ReLU;
- a final BN and ReLU, then 2-D attention pooling over the
  :math:`N = N_f N_t` time-frequency positions :math:`x_i \in R^C`
  (Zhao et al.; EmoNet Eqs. 1-4):

  .. math::
     e_i = u^\top \tanh(W x_i + b), \quad
     \alpha_i = \frac{\exp(\lambda e_i)}{\sum_k \exp(\lambda e_k)}, \quad
     c = \sum_i \alpha_i x_i,

  with 256 tanh units and :math:`\lambda = 0.3`;
- a classifier head per corpus: FC - BN - ReLU - dropout - softmax layer.

Residual adapters (Rebuffi et al. 2018, parallel configuration; EmoNet
Fig. 6): every 3x3 convolution has a 1x1 convolution of the same stride and
filters beside it, per corpus; their outputs are summed and go through a
batch norm that is also per corpus. The shared weights are the 3x3
convolutions and the attention; adapters, batch norms and heads belong to a
corpus (:meth:`ResNetAdapters.add_domain`).

``width`` scales every filter count (1.0 is the paper's; the CPU default of
the registered systems is smaller, see :mod:`contaffect.models.sequence_classifier`).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

SHARED = "*"


class _DomainModules(nn.Module):
    """One module per domain, built by ``make()``; new domains copy an existing one."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make
        self.by = nn.ModuleDict()

    def add(self, domain: str, like: str | None = None, zero: bool = False) -> None:
        m = self.make()
        if like is not None:
            m.load_state_dict(self.by[like].state_dict())
        if zero:
            for p in m.parameters():
                nn.init.zeros_(p)
        self.by[domain] = m

    def __getitem__(self, domain: str) -> nn.Module:
        return self.by[domain]


class AdaptedConv(nn.Module):
    """A shared 3x3 convolution, a per-domain 1x1 adapter beside it, a per-domain BN."""

    def __init__(self, c_in: int, c_out: int, stride: int, adapters: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        # factories are partials, not lambdas, so that a fitted model pickles
        self.adapters = (_DomainModules(partial(nn.Conv2d, c_in, c_out, 1, stride, bias=False))
                         if adapters else None)
        self.bn = _DomainModules(partial(nn.BatchNorm2d, c_out))

    def forward(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        h = self.conv(x)
        if self.adapters is not None:
            h = h + self.adapters[domain](x)
        return self.bn[domain](h)


class Block(nn.Module):
    """conv - BN - ReLU - conv - BN, plus the (pooled, zero-padded) input, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, adapters: bool) -> None:
        super().__init__()
        self.a = AdaptedConv(c_in, c_out, stride, adapters)
        self.b = AdaptedConv(c_out, c_out, 1, adapters)
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        h = self.b(F.relu(self.a(x, domain)), domain)
        r = x
        if self.stride > 1:
            r = F.avg_pool2d(r, 2, 2, ceil_mode=True)
        if self.pad:
            r = F.pad(r, (0, 0, 0, 0, 0, self.pad))
        return F.relu(h + r[..., :h.shape[-2], :h.shape[-1]])


class AttentionPool2d(nn.Module):
    r"""Smoothed softmax attention over time-frequency positions (EmoNet Eqs. 1-4).

    Positions beyond a sequence's valid length get no weight.
    """

    def __init__(self, channels: int, units: int = 256, lam: float = 0.3) -> None:
        super().__init__()
        self.proj = nn.Linear(channels, units)
        self.u = nn.Linear(units, 1, bias=False)
        self.lam = lam

    def forward(self, h: torch.Tensor, valid_t: torch.Tensor) -> torch.Tensor:
        B, C, Nf, Nt = h.shape
        x = h.permute(0, 2, 3, 1).reshape(B, Nf * Nt, C)
        e = self.u(torch.tanh(self.proj(x))).squeeze(-1)                 # (B, N)
        t = torch.arange(Nt, device=h.device).repeat(Nf)                  # time of each position
        e = e.masked_fill(t[None, :] >= valid_t[:, None], float("-inf"))
        a = torch.softmax(self.lam * e, dim=1)
        return torch.einsum("bn,bnc->bc", a, x)


def _head(c: int, units: int, n_classes: int, dropout: float) -> nn.Sequential:
    """A corpus' classifier head: FC - BN - ReLU - dropout - softmax layer (EmoNet Fig. 5)."""
    return nn.Sequential(nn.Linear(c, units), nn.BatchNorm1d(units), nn.ReLU(),
                         nn.Dropout(dropout), nn.Linear(units, n_classes))


class ResNetAdapters(nn.Module):
    """EmoNet's ResNet (see the module docstring); ``adapters=False`` is the plain ResNet.

    Parameters
    ----------
    n_mels, n_classes
        Input bands and classes.
    adapters
        Parallel 1x1 residual adapters per domain (else one shared BN / head).
    width
        Multiplier of every filter count (paper: 1.0, i.e. 32, 64, 128, 256).
    lam
        Attention smoothing :math:`\\lambda` (paper: 0.3).
    """

    def __init__(self, n_mels: int, n_classes: int, *, adapters: bool = True,
                 width: float = 1.0, lam: float = 0.3, head_units: int = 256,
                 dropout: float = 0.2) -> None:
        super().__init__()
        f = [max(4, int(round(c * width))) for c in (32, 64, 128, 256)]
        self.use_adapters = adapters
        self.stem = nn.Conv2d(1, f[0], 3, 1, 1, bias=False)
        self.stem_bn = _DomainModules(partial(nn.BatchNorm2d, f[0]))
        blocks = []
        for c_in, c_out in zip(f[:-1], f[1:]):
            blocks += [Block(c_in, c_out, 2, adapters), Block(c_out, c_out, 1, adapters)]
        self.blocks = nn.ModuleList(blocks)
        self.final_bn = _DomainModules(partial(nn.BatchNorm2d, f[-1]))
        self.attention = AttentionPool2d(f[-1], 256, lam)
        self.heads = _DomainModules(partial(_head, f[-1], head_units, n_classes, dropout))
        self.embedding_size = f[-1]
        self.domains: list[str] = []

    # domains --------------------------------------------------------------------------
    def _domain_modules(self) -> list[_DomainModules]:
        return [m for m in self.modules() if isinstance(m, _DomainModules)]

    def branch(self, domain: str) -> str:
        """The branch a domain runs through (the shared one without adapters)."""
        return domain if self.use_adapters else SHARED

    def add_domain(self, domain: str, like: str | None = None) -> None:
        """Per-domain BNs, adapters and head for ``domain``.

        ``like``: BN statistics and affine parameters copied from that domain,
        adapters set to zero (the new branch starts as the shared network), and
        a new head; without it, everything is freshly initialised.
        """
        key = self.branch(domain)
        if key in self.domains:
            return
        for mods in self._domain_modules():
            is_adapter = any(mods is getattr(m, "adapters", None) for m in self.modules())
            is_head = mods is self.heads
            src = like if (like is not None and not is_head) else None
            mods.add(key, like=src, zero=(is_adapter and like is not None))
        self.domains.append(key)

    def domain_parameters(self, domain: str, heads_only: bool = False) -> list[nn.Parameter]:
        """Parameters that belong to ``domain`` (adapters, BNs, head) or its head only."""
        key = self.branch(domain)
        if heads_only:
            return list(self.heads[key].parameters())
        return [p for mods in self._domain_modules() for p in mods[key].parameters()]

    def shared_parameters(self) -> list[nn.Parameter]:
        """The 3x3 convolutions and the attention (shared by every domain)."""
        own = {id(p) for mods in self._domain_modules() for p in mods.parameters()}
        return [p for p in self.parameters() if id(p) not in own]

    # forward --------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        """The attention-pooled embedding ``c`` (B, C) of a batch of one domain."""
        key = self.branch(domain)
        h = x.transpose(1, 2).unsqueeze(1)                     # (B, 1, mels, T)
        h = F.relu(self.stem_bn[key](self.stem(h)))
        for blk in self.blocks:
            h = blk(h, key)
        h = F.relu(self.final_bn[key](h))
        valid = lengths.clone()
        for _ in range(3):                                     # three stride-2 stacks
            valid = torch.div(valid + 1, 2, rounding_mode="floor")
        return self.attention(h, valid.clamp(min=1))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, domain: str = "") -> torch.Tensor:
        return self.heads[self.branch(domain)](self.embed(x, lengths, domain))
