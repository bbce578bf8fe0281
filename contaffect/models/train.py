"""Training LSTMs on windowed frame sequences: seeded, checkpointed, resumable.

Defaults follow Kaya, Fedotov et al. (2018, Sec. 3.3): learning rate 0.001,
five epochs over all windows of the source corpus, the epoch chosen by the
validation corpus' CC.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from contaffect.errors import ConfigError
from contaffect.metrics import pearson
from contaffect.models.lstm import LSTMRegressor
from contaffect.models.windows import WindowIndex, build_windows, overlap_average, window_offsets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and windowing.

    Attributes
    ----------
    units
        LSTM layer sizes.
    many_to_many
        A prediction per window step (True) or per window (False).
    n_steps, context_s
        Sparse window: ``n_steps`` frames over ``context_s`` seconds (16 / 8 s).
    dropout
        Between LSTM layers.
    """

    units: tuple[int, ...] = (80, 60)
    many_to_many: bool = True
    n_steps: int = 16
    context_s: float = 8.0
    dropout: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation.

    Attributes
    ----------
    epochs
        Epochs over all training windows (paper: 5).
    lr
        Adam learning rate (paper: 0.001).
    batch_size
        Windows per batch.
    loss
        ``"mse"`` or ``"ccc"`` (1 - CCC over the batch).
    input_noise
        Standard deviation of Gaussian noise added to the (z-normalised) inputs.
    hop
        Distance in frames between training windows' ends.
    seed
        Seeds initialisation, shuffling and noise; the same seed gives the same numbers.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    """

    epochs: int = 5
    lr: float = 1e-3
    batch_size: int = 256
    loss: Literal["mse", "ccc"] = "mse"
    input_noise: float = 0.0
    hop: int = 1
    seed: int = 0
    device: str = "auto"


class SequenceSet:
    """Frames of several recordings, concatenated, with optional targets.

    Parameters
    ----------
    features
        Recording id -> ``(n_frames, n_features)``.
    targets
        Recording id -> ``(n_frames,)`` or ``(n_frames, k)``; None for prediction only.
    rate
        Frame rate (Hz) of the features.
    """

    def __init__(self, features: dict[str, np.ndarray], targets: dict[str, np.ndarray] | None,
                 rate: float) -> None:
        self.ids = list(features)
        self.rate = float(rate)
        self.lengths = [int(features[k].shape[0]) for k in self.ids]
        self.X = np.ascontiguousarray(np.vstack([features[k] for k in self.ids]), dtype=np.float32)
        self.Y = None
        if targets is not None:
            missing = [k for k in self.ids if k not in targets]
            if missing:
                raise ConfigError(f"no targets for recording(s) {missing[:5]}")
            ys = []
            for k, n in zip(self.ids, self.lengths):
                y = np.asarray(targets[k], dtype=np.float32)
                y = y[:, None] if y.ndim == 1 else y
                if y.shape[0] != n:
                    raise ConfigError(f"{k}: {n} feature frames but {y.shape[0]} target frames")
                ys.append(y)
            self.Y = np.vstack(ys)
        self.bounds = np.concatenate([[0], np.cumsum(self.lengths)])

    def __len__(self) -> int:
        return self.X.shape[0]

    def windows(self, model: ModelConfig, hop: int = 1) -> WindowIndex:
        """The sparse windows over this set."""
        return build_windows(self.lengths, window_offsets(model.n_steps, model.context_s,
                                                          self.rate), hop)

    def split(self, frame_values: np.ndarray) -> dict[str, np.ndarray]:
        """Cut a frame-level array back into recordings."""
        return {k: frame_values[self.bounds[i]:self.bounds[i + 1]] for i, k in enumerate(self.ids)}


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history
        One dict per epoch: ``epoch``, ``loss``, ``val_cc`` (list, one per output).
    states
        Model weights after each epoch (CPU tensors), to predict with any epoch.
    best_epoch
        Epoch with the highest mean validation CC.
    """

    history: list[dict] = field(default_factory=list)
    states: dict[int, dict] = field(default_factory=dict)
    best_epoch: int = 1


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no GPU is available")
    return torch.device(name)


def _ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mp, mt = pred.mean(0), target.mean(0)
    vp, vt = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(0)
    return (1 - 2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)).mean()


def make_model(model: ModelConfig, n_features: int, n_outputs: int) -> LSTMRegressor:
    """Build the regressor of a model configuration."""
    return LSTMRegressor(n_features, model.units, n_outputs, model.many_to_many, model.dropout)


@torch.no_grad()
def predict_frames(net: LSTMRegressor, data: SequenceSet, model: ModelConfig,
                   batch_size: int = 2048, device: torch.device | None = None) -> np.ndarray:
    """Frame predictions ``(n_frames, k)``: every frame averages the windows that cover it."""
    device = device or next(net.parameters()).device
    net.eval()
    index = data.windows(model, hop=1)
    outs = []
    for s in range(0, len(index), batch_size):
        rows = np.arange(s, min(s + batch_size, len(index)))
        x = torch.from_numpy(data.X[index.indices(rows)]).to(device)
        outs.append(net(x).float().cpu().numpy())
    return overlap_average(index, np.concatenate(outs), len(data))


def _checkpoint_path(directory: Path, epoch: int) -> Path:
    return directory / f"epoch{epoch:03d}.pt"


def train(
    model: ModelConfig,
    config: TrainConfig,
    train_set: SequenceSet,
    val_set: SequenceSet | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "train",
) -> TrainResult:
    """Train a fresh regressor; pick the best epoch on the validation set's CC.

    Every epoch's weights, the optimiser state and the history are saved to
    ``checkpoint_dir`` (atomically); a rerun with the same arguments loads the
    epochs already done and continues, giving the same numbers as an
    uninterrupted run (shuffling and noise are seeded per epoch).

    Parameters
    ----------
    model, config
        Architecture and optimisation.
    train_set
        Windows are built over it; targets must be present.
    val_set
        Scored after every epoch with CC per output; None keeps the last epoch.
    checkpoint_dir
        Where to save and resume; None trains in memory only.
    progress
        Progress bar over batches, with loss, and validation CC per epoch.
    desc
        Label of the progress bar.
    """
    if train_set.Y is None:
        raise ConfigError("training set has no targets")
    if config.loss not in ("mse", "ccc"):
        raise ConfigError(f"loss must be 'mse' or 'ccc', got {config.loss!r}")
    if config.epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {config.epochs}")
    device = _device(config.device)
    torch.manual_seed(config.seed)
    net = make_model(model, train_set.X.shape[1], train_set.Y.shape[1]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    index = train_set.windows(model, config.hop)
    ckdir = Path(checkpoint_dir) if checkpoint_dir else None
    if ckdir:
        ckdir.mkdir(parents=True, exist_ok=True)
    result = TrainResult()
    fingerprint = dict(model=asdict(model), train=asdict(config), n_train=len(train_set),
                       n_val=len(val_set) if val_set else 0)
    for epoch in range(1, config.epochs + 1):
        path = _checkpoint_path(ckdir, epoch) if ckdir else None
        if path and path.is_file():
            ck = torch.load(path, map_location=device, weights_only=False)
            if ck["fingerprint"] != fingerprint:
                raise ConfigError(f"{path} was written by another configuration; use a new "
                                  "checkpoint folder or delete it")
            net.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            result.history = ck["history"]
            result.states[epoch] = {k: v.cpu().clone() for k, v in ck["model"].items()}
            continue
        net.train()
        rng = np.random.default_rng((config.seed, epoch))
        gen = torch.Generator(device="cpu").manual_seed(config.seed * 1000 + epoch)
        order = rng.permutation(len(index))
        total, count = 0.0, 0
        bar = tqdm(range(0, len(order), config.batch_size), desc=f"{desc} epoch {epoch}",
                   unit="batch", disable=not progress, leave=False)
        for s in bar:
            rows = order[s:s + config.batch_size]
            idx = index.indices(rows)
            x = torch.from_numpy(train_set.X[idx])
            if config.input_noise > 0:
                x = x + config.input_noise * torch.randn(x.shape, generator=gen)
            x = x.to(device)
            out = net(x)
            if model.many_to_many:
                mask = torch.from_numpy(index.valid(rows)).to(device)
                y = torch.from_numpy(train_set.Y[idx]).to(device)
                pred, target = out[mask], y[mask]
            else:
                pred = out
                target = torch.from_numpy(train_set.Y[index.ends[rows]]).to(device)
            loss = (torch.mean((pred - target) ** 2) if config.loss == "mse"
                    else _ccc_loss(pred, target))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
            count += len(rows)
            if progress:
                bar.set_postfix(loss=f"{total / count:.4f}")
        bar.close()
        entry = dict(epoch=epoch, loss=total / count)
        if val_set is not None and val_set.Y is not None:
            pred = predict_frames(net, val_set, model, device=device)
            entry["val_cc"] = [pearson(val_set.Y[:, j], pred[:, j]) for j in range(pred.shape[1])]
        result.history.append(entry)
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        result.states[epoch] = state
        if progress:
            cc = ", ".join(f"{c:.3f}" for c in entry.get("val_cc", []))
            tqdm.write(f"{desc} epoch {epoch}/{config.epochs}: loss {entry['loss']:.4f}"
                       + (f", validation CC {cc}" if cc else ""))
        if path:
            tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
            torch.save(dict(model=state, optimizer=opt.state_dict(), history=result.history,
                            fingerprint=fingerprint), tmp)
            os.replace(tmp, path)
    # a constant prediction has no CC (NaN): such an epoch is never the best
    scores = np.nan_to_num([np.mean(h["val_cc"]) if "val_cc" in h else np.nan
                            for h in result.history], nan=-np.inf)
    result.best_epoch = int(np.argmax(scores)) + 1 if val_set is not None else config.epochs
    return result


def load_state(model: ModelConfig, n_features: int, n_outputs: int, state: dict,
               device: str = "auto") -> LSTMRegressor:
    """A regressor with given weights, ready for :func:`predict_frames`."""
    net = make_model(model, n_features, n_outputs)
    net.load_state_dict(state)
    return net.to(_device(device))
