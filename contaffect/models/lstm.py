"""The LSTM regressor over sparse context windows (PyTorch)."""

from __future__ import annotations

import torch
from torch import nn


class LSTMRegressor(nn.Module):
    """Stacked LSTMs and a linear head: one prediction per step, or per window.

    Parameters
    ----------
    n_features
        Input size (130 for ComParE LLDs + deltas).
    units
        Hidden units per LSTM layer; default ``(80, 60)``, close to the
        two-layer models of the paper's line of work (Fedotov et al. 2018).
    n_outputs
        1 for one model per dimension (the paper's setting), 2 for a joint
        arousal + valence head.
    many_to_many
        True: a prediction for every step of the window (averaged over
        overlapping windows afterwards); False: one for the window's last frame.
    dropout
        Dropout between LSTM layers.
    """

    def __init__(self, n_features: int, units: tuple[int, ...] = (80, 60), n_outputs: int = 1,
                 many_to_many: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.many_to_many = many_to_many
        sizes = [n_features, *units]
        self.layers = nn.ModuleList(
            nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(units))
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(sizes[-1], n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` is ``(batch, steps, features)``; returns ``(batch, steps, out)`` or ``(batch, out)``."""
        for i, lstm in enumerate(self.layers):
            x, _ = lstm(x)
            if i < len(self.layers) - 1:
                x = self.dropout(x)
        if not self.many_to_many:
            x = x[:, -1]
        return self.head(x)
