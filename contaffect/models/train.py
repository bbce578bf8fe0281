"""Training LSTMs on windowed frame sequences: seeded, checkpointed, resumable.

Defaults follow Kaya, Fedotov et al. (2018, Sec. 3.3): learning rate 0.001,
five epochs over all windows of the source corpus, the epoch chosen by the
validation corpus' CC.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from contaffect.errors import ConfigError
from contaffect.features.packed import packed_span
from contaffect.metrics import pearson
from contaffect.models import distributed as dist
from contaffect.models.config import LOSSES, ModelConfig, TrainConfig, resolve_device
from contaffect.models.lstm import LSTMRegressor
from contaffect.threads import ThreadPolicy
from contaffect.models.windows import WindowIndex, build_windows, overlap_average, window_offsets

log = logging.getLogger(__name__)


class SequenceSet:
    """Frames of several recordings, stacked, with optional targets.

    Parameters
    ----------
    features
        Recording id -> ``(n_frames, n_features)``.
    targets
        Recording id -> ``(n_frames,)`` or ``(n_frames, k)``; None for prediction only.
    rate
        Frame rate (Hz) of the features.

    Attributes
    ----------
    X
        ``(n_rows, n_features)`` float32. When the features are ordered row
        ranges of one packed block (:func:`~contaffect.features.packed.pack`,
        as :func:`~contaffect.experiment.data.grid_features` gives them), a
        view of that block, not a copy; rows between recordings (dropped by a
        cut) are gaps that no window reads, with NaN targets.
    Y
        ``(n_rows, k)`` float32 targets (NaN: masked or a gap), or None.
    starts, lengths
        Each recording's first row in ``X`` and its number of frames.
    """

    def __init__(self, features: dict[str, np.ndarray], targets: dict[str, np.ndarray] | None,
                 rate: float) -> None:
        self.ids = list(features)
        self.rate = float(rate)
        self.lengths = [int(features[k].shape[0]) for k in self.ids]
        span = packed_span([features[k] for k in self.ids])
        if span is not None:
            self.X, self.starts = span
        else:
            self.X = np.ascontiguousarray(np.vstack([features[k] for k in self.ids]),
                                          dtype=np.float32)
            self.starts = np.cumsum([0, *self.lengths])[:-1].astype(np.int64)
        self.Y = None
        #: whether some target frames of a recording are masked (NaN: no label; never
        #: trained on or scored)
        self.masked = False
        if targets is not None:
            missing = [k for k in self.ids if k not in targets]
            if missing:
                raise ConfigError(f"no targets for recording(s) {missing[:5]}")
            for k, n in zip(self.ids, self.lengths):
                if np.shape(targets[k])[0] != n:
                    raise ConfigError(f"{k}: {n} feature frames but {np.shape(targets[k])[0]} "
                                      "target frames")
            ys = [np.asarray(targets[k], dtype=np.float32) for k in self.ids]
            ys = [y[:, None] if y.ndim == 1 else y for y in ys]
            self.Y = np.full((self.X.shape[0], ys[0].shape[1]), np.nan, dtype=np.float32)
            for s, y in zip(self.starts, ys):
                self.Y[s:s + y.shape[0]] = y
            self.masked = not all(bool(np.isfinite(y).all()) for y in ys)

    def __len__(self) -> int:
        """Rows of :attr:`X` (recordings' frames and any gaps between them)."""
        return self.X.shape[0]

    @property
    def n_frames(self) -> int:
        """Frames of the recordings (gaps not counted)."""
        return int(sum(self.lengths))

    def rows(self) -> np.ndarray:
        """Indices of the rows of :attr:`X` that belong to a recording, in order."""
        return np.concatenate([np.arange(s, s + n) for s, n in zip(self.starts, self.lengths)])

    def windows(self, model: ModelConfig, hop: int = 1) -> WindowIndex:
        """The sparse windows over this set."""
        return build_windows(self.lengths, window_offsets(model.n_steps, model.context_s,
                                                          self.rate), hop, starts=self.starts)

    def split(self, frame_values: np.ndarray) -> dict[str, np.ndarray]:
        """Cut a row-level array (``len(self)`` rows) back into recordings."""
        return {k: frame_values[s:s + n] for k, s, n in zip(self.ids, self.starts, self.lengths)}


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history
        One dict per epoch: ``epoch``, ``loss``, ``val_cc`` (list, one per output).
    runtime
        One dict per epoch on how it ran (never part of the numbers):
        ``epoch``, ``device``, ``threads`` (torch's CPU threads; 0 on a GPU),
        ``processes`` (DDP world size), ``precision``, ``seconds``; epochs
        read from a checkpoint keep what was recorded when they ran.
    states
        Model weights after each epoch (CPU tensors), to predict with any epoch.
    best_epoch
        Epoch with the highest mean validation CC.
    """

    history: list[dict] = field(default_factory=list)
    states: dict[int, dict] = field(default_factory=dict)
    best_epoch: int = 1
    runtime: list[dict] = field(default_factory=list)


def masked_loss(loss_fn, pred, target):
    """``loss_fn`` over the labelled frames only, one output column at a time.

    Targets are NaN on masked frames (:mod:`contaffect.labels.coverage`);
    each output's loss is taken over its own labelled frames and the losses
    are averaged over the outputs that have any. None when no frame of the
    batch is labelled.
    """
    finite = torch.isfinite(target)
    if bool(finite.all()):
        return loss_fn(pred, target)
    losses = []
    for j in range(target.shape[-1]):
        m = finite[..., j]
        if bool(m.any()):
            losses.append(loss_fn(pred[..., j][m][:, None], target[..., j][m][:, None]))
    return torch.stack(losses).mean() if losses else None


def masked_pearson(y: np.ndarray, p: np.ndarray) -> float:
    """Pearson's CC over the frames whose label is not NaN (masked)."""
    ok = np.isfinite(y)
    return pearson(y[ok], p[ok]) if ok.any() else float("nan")


def make_model(model: ModelConfig, n_features: int, n_outputs: int) -> LSTMRegressor:
    """Build the regressor of a model configuration."""
    return LSTMRegressor(n_features, model.units, n_outputs, model.many_to_many, model.dropout)


_BF16_ONEDNN: bool | None = None


def _bf16_onednn_works() -> bool:
    """Whether oneDNN runs a bfloat16 LSTM on this CPU (it needs AVX512-BF16 or AMX)."""
    global _BF16_ONEDNN
    if _BF16_ONEDNN is None:
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                torch.nn.LSTM(4, 4, batch_first=True)(torch.zeros(1, 2, 4))
            _BF16_ONEDNN = True
        except RuntimeError:
            _BF16_ONEDNN = False
            log.info("this CPU has no bfloat16 LSTM kernels in oneDNN; bf16 runs on torch's "
                     "native kernels (slower than fp32 here: bf16 pays off on GPUs and on "
                     "CPUs with AVX512-BF16 / AMX)")
    return _BF16_ONEDNN


def autocast(device: torch.device, precision: str = "fp32"):
    """The context a forward pass runs in: nothing for fp32, bfloat16 autocast for bf16.

    Weights, gradients and the optimiser stay float32 (autocast casts the
    inputs of matrix products only), so bf16 needs no loss scaling. On a CPU
    whose oneDNN cannot run a bf16 LSTM, oneDNN is switched off inside the
    context (torch's native kernels run it, correctly but slowly).
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    if device.type == "cpu" and not _bf16_onednn_works():
        with warnings.catch_warnings():    # torch warns about Intel GPUs' TF32 on every toggle
            warnings.simplefilter("ignore", UserWarning)
            stack.enter_context(torch.backends.mkldnn.flags(enabled=False))
    stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
    return stack


@torch.no_grad()
def predict_frames(net: LSTMRegressor, data: SequenceSet, model: ModelConfig,
                   batch_size: int = 2048, device: torch.device | None = None,
                   precision: str = "fp32") -> np.ndarray:
    """Frame predictions ``(n_frames, k)``: every frame averages the windows that cover it."""
    device = device or next(net.parameters()).device
    net.eval()
    index = data.windows(model, hop=1)
    outs = []
    for s in range(0, len(index), batch_size):
        rows = np.arange(s, min(s + batch_size, len(index)))
        x = torch.from_numpy(data.X[index.indices(rows)]).to(device)
        with autocast(device, precision):
            outs.append(net(x).float().cpu().numpy())
    return overlap_average(index, np.concatenate(outs), len(data))


def _checkpoint_path(directory: Path, epoch: int) -> Path:
    return directory / f"epoch{epoch:03d}.pt"


_EPOCH_FILE = re.compile(r"epoch(\d+)\.pt")
_CHECKPOINT_KEYS = ("model", "optimizer", "history", "fingerprint", "rng")


def data_fingerprint(train_set: SequenceSet, val_set: SequenceSet | None = None) -> str:
    """SHA-256 (hex) of the training and validation data: frames, targets, recording lengths.

    Any changed value, shape or cut into recordings changes it; :func:`train`
    refuses checkpoints written for other data, and an experiment runner can
    key checkpoint folders by it. Reads the arrays once, without copies.
    """
    h = hashlib.sha256()
    for name, data in (("train", train_set), ("val", val_set)):
        if data is None:
            h.update(f"{name}:none;".encode())
            continue
        arrays = (("X", data.X, "<f4"), ("Y", data.Y, "<f4"))
        for key, a, dtype in arrays:
            if a is None:
                h.update(f"{name}.{key}:none;".encode())
                continue
            # the recordings' rows, back to back: gaps between them (packed views, see
            # SequenceSet) are not data, and the digest equals that of the stacked arrays
            h.update(f"{name}.{key}:{dtype}:{(data.n_frames, *a.shape[1:])};".encode())
            for s, n in zip(data.starts, data.lengths):
                h.update(np.ascontiguousarray(a[s:s + n], dtype=dtype))
        lengths = np.asarray(data.lengths, dtype=np.int64)
        h.update(f"{name}.lengths:<i8:{lengths.shape};".encode())
        h.update(lengths)
    return h.hexdigest()


def _rng_state() -> dict:
    """Every global RNG state training consumes (dropout draws from torch's default generators).

    Shuffling and input noise use generators seeded per epoch, so need no saving.
    """
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            log.warning("checkpoint has CUDA RNG states of %d device(s), this machine %d: "
                        "dropout will not resume exactly", len(cuda), torch.cuda.device_count())


def _fresh(model: ModelConfig, config: TrainConfig, train_set: SequenceSet,
           device: torch.device) -> tuple[LSTMRegressor, torch.optim.Optimizer]:
    """The seeded initial network and optimiser (also resets torch's RNGs to the start)."""
    torch.manual_seed(config.seed)
    net = make_model(model, train_set.X.shape[1], train_set.Y.shape[1]).to(device)
    return net, torch.optim.Adam(net.parameters(), lr=config.lr)


def _remove_stale_temporaries(directory: Path) -> None:
    """Delete ``epoch*.pt.tmp-*`` files left by saves that were killed."""
    for tmp in directory.glob("epoch*.pt.tmp-*"):
        try:
            tmp.unlink()
            log.info("removed stale temporary checkpoint %s", tmp)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("cannot remove stale temporary checkpoint %s: %s", tmp, e)


def _discard_checkpoints(directory: Path, first: int) -> None:
    """Delete the checkpoints of epoch ``first`` and every later epoch."""
    for p in directory.iterdir():
        m = _EPOCH_FILE.fullmatch(p.name)
        if m and int(m.group(1)) >= first:
            p.unlink(missing_ok=True)


def _read_checkpoint(path: Path, epoch: int, device: torch.device, fingerprint: dict) -> dict | None:
    """The checkpoint of ``epoch``; None if it is unreadable or incomplete.

    Raises :class:`ConfigError` if it is intact but written for another
    configuration or other data.
    """
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
        if not isinstance(ck, dict) or "fingerprint" not in ck:
            raise ValueError("not a checkpoint")
    except Exception as e:  # truncated zip, unpickling errors, foreign files...
        log.warning("checkpoint %s is unreadable (%s: %s)", path, type(e).__name__, e)
        return None
    if ck["fingerprint"] != fingerprint:
        raise ConfigError(f"{path} was written by another configuration or for other data; "
                          "use a new checkpoint folder or delete it")
    missing = [k for k in _CHECKPOINT_KEYS if k not in ck]
    history = ck.get("history")
    if missing or not isinstance(history, list) or len(history) != epoch \
            or not isinstance(history[-1], dict) or history[-1].get("epoch") != epoch:
        log.warning("checkpoint %s is incomplete (missing %s or a wrong history)", path,
                    missing or "nothing")
        return None
    return ck


def _restore(net: LSTMRegressor, opt: torch.optim.Optimizer, ck: dict) -> None:
    """Load a checkpoint's weights, optimiser state and RNG states (may fail half-way)."""
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    _set_rng_state(ck["rng"])


def _save_checkpoint(path: Path, content: dict) -> None:
    """Write atomically: to a temporary file, then renamed; the temporary never outlives a failure."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    done = False
    try:
        torch.save(content, tmp)
        os.replace(tmp, path)
        done = True
    finally:
        if not done:
            try:
                tmp.unlink(missing_ok=True)
            except OSError as e:  # keep the original error (e.g. a full disk)
                log.warning("cannot remove temporary checkpoint %s: %s", tmp, e)


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
    uninterrupted run (shuffling and noise are seeded per epoch, and the RNG
    states dropout draws from are saved and restored). Checkpoints are keyed
    by the configuration and a digest of the data (:func:`data_fingerprint`):
    those of another configuration or other data raise :class:`ConfigError`.
    An unreadable checkpoint (truncated, corrupt) is deleted with every later
    one, with a warning, and training resumes from the epoch before it.
    Temporary files of interrupted saves are removed.

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
    if train_set.masked and not np.isfinite(train_set.Y).any(axis=0).all():
        raise ConfigError("training set has an output with no labelled frame (all masked)")
    loss_fn = LOSSES.get(config.loss)
    if config.epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {config.epochs}")
    if dist.active() and dist.is_main():
        # the other ranks wait in distributed.serve(): they train this job with us
        dist.broadcast_job(("contaffect.models.train:train", (model, config, train_set, val_set),
                            dict(checkpoint_dir=checkpoint_dir, progress=False, desc=desc)))
    device = resolve_device(config.device)
    net, opt = _fresh(model, config, train_set, device)
    index = train_set.windows(model, config.hop)
    ckdir = Path(checkpoint_dir) if checkpoint_dir else None
    fingerprint = None
    main = dist.is_main()
    progress = progress and main
    if ckdir:
        if main:
            ckdir.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(ckdir)
        dist.barrier()
        fingerprint = dict(model=asdict(model), train=config.numbers(), n_train=train_set.n_frames,
                           n_val=val_set.n_frames if val_set else 0,
                           data=data_fingerprint(train_set, val_set))
    policy = ThreadPolicy(config.threads, config.thread_policy).start() if device.type == "cpu" else None
    result = TrainResult()
    previous = None          # the checkpoint of the last epoch, loaded or saved
    ddp = None               # the network as trained: DDP-wrapped in a process group
    for epoch in range(1, config.epochs + 1):
        path = _checkpoint_path(ckdir, epoch) if ckdir else None
        if path and path.is_file():
            ck = _read_checkpoint(path, epoch, device, fingerprint)
            if ck is not None:
                try:
                    _restore(net, opt, ck)
                except Exception as e:
                    log.warning("checkpoint %s does not load (%s: %s)", path,
                                type(e).__name__, e)
                    ck = None
            if ck is not None:
                result.history = list(ck["history"])
                result.runtime = list(ck.get("runtime", []))
                result.states[epoch] = {k: v.detach().cpu().clone()
                                        for k, v in ck["model"].items()}
                previous = ck
                continue
            log.warning("deleting %s and the checkpoints of later epochs; retraining from "
                        "epoch %d", path, epoch)
            dist.barrier()           # every process has read it before the main one deletes
            if main:
                _discard_checkpoints(ckdir, epoch)
            # back to the state after the last good epoch (a failed load may have half-loaded)
            if previous is None:
                net, opt = _fresh(model, config, train_set, device)
                result.history, result.runtime = [], []
            else:
                _restore(net, opt, previous)
                result.history = list(previous["history"])
                result.runtime = list(previous.get("runtime", []))
        if ddp is None:
            ddp = dist.wrap(net)
        t_epoch = time.perf_counter()
        threads = torch.get_num_threads()
        total, count = _train_epoch(ddp, opt, model, config, train_set, index, loss_fn, device,
                                    epoch, progress, desc)
        entry = dict(epoch=epoch, loss=total / count if count else float("nan"))
        if val_set is not None and val_set.Y is not None:
            pred = predict_frames(net, val_set, model, device=device, precision=config.precision)
            entry["val_cc"] = [masked_pearson(val_set.Y[:, j], pred[:, j])
                               for j in range(pred.shape[1])]
        result.history.append(entry)
        result.runtime.append(dict(epoch=epoch, device=str(device),
                                   threads=threads if device.type == "cpu" else 0,
                                   processes=dist.world_size(), precision=config.precision,
                                   seconds=round(time.perf_counter() - t_epoch, 3)))
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        result.states[epoch] = state
        if progress:
            cc = ", ".join(f"{c:.3f}" for c in entry.get("val_cc", []))
            tqdm.write(f"{desc} epoch {epoch}/{config.epochs}: loss {entry['loss']:.4f}"
                       + (f", validation CC {cc}" if cc else ""))
        if path:
            previous = dict(model=state, optimizer=opt.state_dict(), history=result.history,
                            fingerprint=fingerprint, rng=_rng_state(),
                            runtime=list(result.runtime))
            if main:
                _save_checkpoint(path, previous)
            dist.barrier()
        if policy is not None:
            policy.update()
    # a constant prediction has no CC (NaN): such an epoch is never the best
    scores = np.nan_to_num([np.mean(h["val_cc"]) if "val_cc" in h else np.nan
                            for h in result.history], nan=-np.inf)
    result.best_epoch = int(np.argmax(scores)) + 1 if val_set is not None else config.epochs
    return result


def _train_epoch(net, opt, model: ModelConfig, config: TrainConfig, train_set: SequenceSet,
                 index: WindowIndex, loss_fn, device: torch.device, epoch: int, progress: bool,
                 desc: str) -> tuple[float, int]:
    """One pass over the shuffled windows; (summed loss x windows, windows) of the batches.

    In a process group each process takes a contiguous chunk of every batch
    and the loss is computed on the gathered batch (:mod:`.distributed`), so
    the numbers are the one-process numbers. Shuffling and input noise are
    seeded per epoch and drawn for the whole batch on every process.
    """
    net.train()
    rng = np.random.default_rng((config.seed, epoch))
    gen = torch.Generator(device="cpu").manual_seed(config.seed * 1000 + epoch)
    order = rng.permutation(len(index))
    total, count = 0.0, 0
    bar = tqdm(range(0, len(order), config.batch_size), desc=f"{desc} epoch {epoch}",
               unit="batch", disable=not progress, leave=False)
    for s in bar:
        rows = order[s:s + config.batch_size]
        mine = dist.chunk(rows)
        idx = index.indices(mine)
        x = torch.from_numpy(train_set.X[idx])
        if config.input_noise > 0:
            noise = torch.randn((len(rows), *x.shape[1:]), generator=gen)
            x = x + config.input_noise * noise[dist.chunk_slice(len(rows))]
        x = x.to(device)
        with autocast(device, config.precision):
            out = net(x)
        out = out.float()
        if model.many_to_many:
            mask = torch.from_numpy(index.valid(mine)).to(device)
            y = torch.from_numpy(train_set.Y[idx]).to(device)
            pred, target = out[mask], y[mask]
        else:
            pred = out
            target = torch.from_numpy(train_set.Y[index.ends[mine]]).to(device)
        pred, target = dist.gather_rows(pred), dist.gather_rows(target)
        loss = masked_loss(loss_fn, pred, target) if train_set.masked else loss_fn(pred, target)
        if loss is None:                   # every target of the batch is masked
            continue
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(rows)
        count += len(rows)
        if progress:
            bar.set_postfix(loss=f"{total / count:.4f}")
    bar.close()
    return total, count


def load_state(model: ModelConfig, n_features: int, n_outputs: int, state: dict,
               device: str = "auto") -> LSTMRegressor:
    """A regressor with given weights, ready for :func:`predict_frames`."""
    net = make_model(model, n_features, n_outputs)
    net.load_state_dict(state)
    return net.to(resolve_device(device))
