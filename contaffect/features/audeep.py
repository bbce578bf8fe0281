"""Recurrent sequence-to-sequence autoencoder features, in the spirit of auDeep.

auDeep (Freitag, Amiriparian et al., JMLR 2017; a ComParE 2018 baseline)
turns each utterance's mel spectrogram into a fixed-length vector: the
spectrogram (in dB relative to its maximum) is clipped at a threshold, an RNN
encoder reads it, an RNN decoder reconstructs it (in reverse time order) from
the encoder's final state, and that state is the representation. One
autoencoder is trained per clipping threshold (e.g. -30, -45, -60, -75 dB) and
the representations are concatenated ("fused across thresholds").

This is a small, CPU-friendly PyTorch version: one GRU layer each for encoder
and decoder, teacher forcing, masked MSE, seeded. It is fit on the training
partition only; :meth:`save` / :meth:`load` keep the trained autoencoders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn

from contaffect.errors import ConfigError, FeatureError


def mel_spectrogram(signal: np.ndarray, sr: int = 16000, n_mels: int = 64,
                    window_s: float = 0.08, hop_s: float = 0.04) -> np.ndarray:
    """Power mel spectrogram in dB relative to its maximum, ``(frames, n_mels)``.

    Hann window, FFT size = the next power of two of the window; mel filters
    with Slaney's area normalisation (as in librosa's default).
    """
    x = np.asarray(signal, dtype=np.float64).ravel()
    win = int(round(window_s * sr))
    hop = int(round(hop_s * sr))
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n_fft = 1 << (win - 1).bit_length()
    n_frames = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(win)[None, :]
    power = np.abs(np.fft.rfft(frames, n_fft, axis=1)) ** 2
    mel = power @ _mel_filters(sr, n_fft, n_mels).T
    db = 10 * np.log10(np.maximum(mel, 1e-12))
    return (db - db.max()).astype(np.float32)


def _mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr / 2), n_mels + 2))
    fb = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0, np.minimum(up, down)) * 2.0 / (hi - lo)
    return fb


def clip_and_scale(db: np.ndarray, threshold_db: float) -> np.ndarray:
    """Clip a relative-dB spectrogram at ``threshold_db`` (< 0) and map it to [-1, 1]."""
    return (2.0 * (np.maximum(db, threshold_db) - threshold_db) / -threshold_db - 1.0).astype(
        np.float32)


class _Seq2Seq(nn.Module):
    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.encoder = nn.GRU(n_in, hidden, batch_first=True)
        self.decoder = nn.GRU(n_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_in)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.encoder(packed)
        return h                                           # (1, batch, hidden)

    def forward(self, x: torch.Tensor, rev: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.encode(x, lengths)
        # teacher forcing: the decoder sees the reversed target shifted by one step
        dec_in = torch.cat([torch.zeros_like(rev[:, :1]), rev[:, :-1]], dim=1)
        y, _ = self.decoder(dec_in, h)
        return self.out(y)


def _pad(seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([s.shape[0] for s in seqs])
    T, d = int(lengths.max()), seqs[0].shape[1]
    x = torch.zeros(len(seqs), T, d)
    rev = torch.zeros(len(seqs), T, d)
    for i, s in enumerate(seqs):
        t = torch.from_numpy(s)
        x[i, :s.shape[0]] = t
        rev[i, :s.shape[0]] = torch.flip(t, dims=[0])
    return x, rev, lengths


class RecurrentAutoencoder(TransformerMixin, BaseEstimator):
    """auDeep-style utterance features from mel spectrograms (see the module docstring).

    Parameters
    ----------
    thresholds_db
        Clipping thresholds; one autoencoder each, representations concatenated.
    hidden
        GRU units (the representation has ``hidden * len(thresholds_db)`` values).
    n_mels, window_s, hop_s, sr
        Spectrogram settings.
    max_frames
        Longer spectrograms are cut into chunks of this many frames for
        training; the representation of an utterance is the mean over its
        chunks.
    epochs, batch_size, lr
        Adam training.
    random_state
        Seed of initialisation and batch order.
    progress
        Show a progress bar.
    n_threads
        Torch threads while fitting and transforming (default 1: these small
        GRUs gain little from more, and lose much when the cores are shared).

    Attributes
    ----------
    models_
        One trained autoencoder per threshold.
    history_
        Mean training loss per threshold and epoch.
    """

    def __init__(self, thresholds_db: Sequence[float] = (-30.0, -45.0, -60.0, -75.0),
                 hidden: int = 64, n_mels: int = 64, window_s: float = 0.08,
                 hop_s: float = 0.04, sr: int = 16000, max_frames: int = 250,
                 epochs: int = 10, batch_size: int = 32, lr: float = 1e-3,
                 random_state: int = 0, progress: bool = False, n_threads: int = 1) -> None:
        self.thresholds_db = thresholds_db
        self.hidden = hidden
        self.n_mels = n_mels
        self.window_s = window_s
        self.hop_s = hop_s
        self.sr = sr
        self.max_frames = max_frames
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.progress = progress
        self.n_threads = n_threads

    def spectrograms(self, signals: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Relative-dB mel spectrograms of 16 kHz mono signals."""
        out = []
        for i, s in enumerate(signals):
            s = np.asarray(s)
            if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
                raise FeatureError(f"signal {i} must be a non-empty finite mono array")
            out.append(mel_spectrogram(s, self.sr, self.n_mels, self.window_s, self.hop_s))
        return out

    def _chunks(self, spec: np.ndarray) -> list[np.ndarray]:
        m = self.max_frames
        return [spec[i:i + m] for i in range(0, spec.shape[0], m) if spec[i:i + m].shape[0] >= 2] \
            or [spec]

    def fit(self, signals: Sequence[np.ndarray], y=None) -> "RecurrentAutoencoder":
        """Train one autoencoder per threshold on the training utterances."""
        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            return self._fit(signals)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, signals) -> "RecurrentAutoencoder":
        from tqdm.auto import tqdm

        if not self.thresholds_db or any(t >= 0 for t in self.thresholds_db):
            raise ConfigError("thresholds_db must be negative dB values, e.g. [-30, -45, -60]")
        specs = self.spectrograms(signals)
        self.models_, self.history_ = [], []
        for k, thr in enumerate(self.thresholds_db):
            torch.manual_seed(self.random_state + k)
            rng = np.random.default_rng(self.random_state + k)
            chunks = [c for s in specs for c in self._chunks(clip_and_scale(s, thr))]
            net = _Seq2Seq(self.n_mels, self.hidden)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            losses = []
            bar = tqdm(range(self.epochs), desc=f"autoencoder {thr:g} dB",
                       disable=not self.progress, leave=False)
            for _ in bar:
                order = rng.permutation(len(chunks))
                total, count = 0.0, 0
                for b in range(0, len(order), self.batch_size):
                    x, rev, lengths = _pad([chunks[i] for i in order[b:b + self.batch_size]])
                    mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
                    pred = net(x, rev, lengths)
                    loss = ((pred - rev) ** 2 * mask).sum() / (mask.sum() * self.n_mels)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(lengths)
                    count += len(lengths)
                losses.append(total / count)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
            self.models_.append(net.eval())
            self.history_.append(losses)
        return self

    def transform(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """``(n_utterances, hidden * n_thresholds)`` representations."""
        if not hasattr(self, "models_"):
            raise ConfigError("RecurrentAutoencoder is not fitted; call fit on training audio")
        specs = self.spectrograms(signals)
        blocks = []
        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        with torch.no_grad():
            for thr, net in zip(self.thresholds_db, self.models_):
                rows = []
                for s in specs:
                    chunks = self._chunks(clip_and_scale(s, thr))
                    x, _, lengths = _pad(chunks)
                    rows.append(net.encode(x, lengths)[0].mean(0).numpy())
                blocks.append(np.vstack(rows))
        torch.set_num_threads(threads)
        return np.hstack(blocks).astype(np.float64)

    def save(self, path: str | Path) -> Path:
        """Write parameters and weights (a ``torch.save`` file of tensors and plain data)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        params["thresholds_db"] = list(params["thresholds_db"])
        torch.save({"params": params, "history": self.history_,
                    "states": [m.state_dict() for m in self.models_]}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RecurrentAutoencoder":
        """Read autoencoders written by :meth:`save`."""
        try:
            data = torch.load(path, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise FeatureError(f"cannot read autoencoders from {path}: {exc}") from None
        est = cls(**data["params"])
        est.history_ = data["history"]
        est.models_ = []
        for state in data["states"]:
            net = _Seq2Seq(est.n_mels, est.hidden)
            net.load_state_dict(state)
            est.models_.append(net.eval())
        return est
