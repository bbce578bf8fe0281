r"""Neural utterance classifiers on frame sequences, with scikit-learn's API.

:class:`SequenceClassifier` trains one of the seed papers' networks on a
:class:`~contaffect.features.sequences.Sequences` set (one frame matrix per
utterance, with its corpus and speaker):

- ``lstm``, ``cnn``, ``cnn_lstm``: seed 000 (:mod:`contaffect.models.seed000_nets`),
  SGD with momentum 0.9, learning rate 0.01, cross entropy, early stopping
  (the registered systems: class-balanced, on validation UAR, see
  :mod:`contaffect.models.classifiers`), utterances padded to at least 100 frames;
- ``resnet``: seed 001's ResNet (:mod:`contaffect.models.resnet_adapters`),
  with ``adapters=True`` the residual-adapter model trained round-robin, one
  batch per corpus per step; class-weighted cross entropy, SGD momentum 0.9,
  the learning rate stepped 0.1 -> 0.01 -> 0.001 when the validation UAR
  stops improving, random chunks of at most ``crop_s`` seconds with per-batch
  zero padding;
- ``ssl_linear``, ``ssl_cnn_attn``, ``ssl_transformer``: seed 004's heads on
  self-supervised representations (:mod:`contaffect.models.ssl_heads`): mean
  pooling and a linear layer, a CNN with self-attention pooling, the
  class-token transformer; with frames of ``layers > 1`` stacked layers
  (:attr:`~contaffect.features.sequences.Sequences.layers`) each first learns
  a softmax weighting of the layers (SUPERB's featurizer). SUPERB trains its
  downstream models with Adam at learning rate 1e-4, gradients clipped to
  norm 1: ``optimizer="adam"``, ``lr_steps=(1e-4,)``, ``max_grad_norm=1.0``
  in the registered systems (:mod:`contaffect.models.classifiers`).

The architectures are entries of a registry of builders (``_BUILDERS``); a
new network is one entry. A builder receives the frames' stacked-layer count
(seed 000's and 001's networks take the stacked columns as one wide frame);
the fitted model keeps it (``n_layers_in_``) and refuses frames of another
count.

Optimisers. ``sgd``: SGD with ``momentum`` (seeds 000 and 001); ``adam``:
Adam (betas 0.9, 0.999; ``momentum`` unused; ``weight_decay`` an L2 term
added to the gradient, as torch's ``Adam``). The learning rates of
``lr_steps``, the early stopping and the optional clipping of the gradient's
norm (``max_grad_norm``) are the same for both.

Training schedule. One epoch is about one pass over the training set (for
round-robin: :math:`\lceil n / (b\,D) \rceil` rounds of one batch from each of
the :math:`D` corpora). After each epoch the validation metric is computed
on a seeded hold-out of ``validation_fraction`` of the training *speakers*
(utterances, stratified, when there are too few speakers); after
``patience`` epochs without improvement the best weights are restored and
the next learning rate of ``lr_steps`` starts; after the last one training
stops. Seed 001 used a patience of 50 epochs and seed 000 gave none; the
registered systems use a reduced CPU schedule (``patience`` 3 and
``max_epochs`` 20 for seed 000's networks; 2, 30 and ``width`` 0.25 for the
ResNet; 3 and 30 for seed 004's heads, where SUPERB runs 30 000 updates),
which the config's ``grids`` can change. Batches are drawn from
length-sorted pools of eight batches, so that a batch holds utterances of
similar length and little padding (batch norms see padded steps).

Transfer (seed 001, Sec. 5.2.2). With ``transfer="adapters"`` or ``"head"``
and ``fit(..., target_domain=t)`` on data holding ``t`` and other corpora, the
model is first trained round-robin on the other corpora; then the shared
weights are frozen and a new branch for ``t`` (adapters set to zero, batch
norms copied from the first source, a new head) is fine-tuned on ``t``'s
utterances: its adapters, batch norms and head (``"adapters"``, from
learning rate 0.1) or its head only (``"head"``, from 0.01, the batch norms'
running statistics still following ``t``). Without a target, or with one
corpus only, every corpus present is trained round-robin with its own branch.

Scores. :meth:`decision_function` gives log-probabilities (``(n, K)``, also
for two classes). An utterance of a corpus the model has no branch for (a
held-out corpus) gets the log of the mean probability over the branches it
has: the adapters cannot be chosen without that corpus' data.

Everything random (initialisation, dropout, batches, crops, the validation
hold-out) follows ``random_state``; on the CPU the same seed gives the same
numbers. The caller's global torch RNG state is left as it was.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from contaffect.errors import ConfigError
from contaffect.features.sequences import Sequences

log = logging.getLogger(__name__)

TRANSFERS = ("none", "adapters", "head")
OPTIMIZERS = ("sgd", "adam")


# ------------------------------------------------------------------ architectures
# name -> builder(n_in, n_classes, *, width, adapters, dropout, layers) -> nn.Module; a new
# network is one entry. Builders import torch lazily (this module imports without it).
def _seed000_builder(cls_name: str):
    def build(n_in: int, n_classes: int, *, width: float, adapters: bool, dropout: float,
              layers: int):
        from contaffect.models import seed000_nets

        # stacked layers are just wider frames to seed 000's networks
        return getattr(seed000_nets, cls_name)(n_in, n_classes, dropout=dropout)
    return build


def _resnet(n_in: int, n_classes: int, *, width: float, adapters: bool, dropout: float,
            layers: int):
    from contaffect.models import resnet_adapters

    return resnet_adapters.ResNetAdapters(n_in, n_classes, adapters=adapters, width=width,
                                          dropout=dropout)


def _scaled(n: int, width: float, multiple: int = 1) -> int:
    """``n * width`` rounded to a multiple of ``multiple`` (at least one multiple)."""
    return max(multiple, int(round(n * width / multiple)) * multiple)


def _ssl_linear(n_in: int, n_classes: int, *, width: float, adapters: bool, dropout: float,
                layers: int):
    from contaffect.models import ssl_heads

    return ssl_heads.MeanPoolLinear(n_in, n_classes, layers=layers)


def _ssl_cnn_attn(n_in: int, n_classes: int, *, width: float, adapters: bool, dropout: float,
                  layers: int):
    from contaffect.models import ssl_heads

    return ssl_heads.CNNSelfAttention(n_in, n_classes, layers=layers,
                                      hidden=_scaled(256, width), dropout=dropout)


def _ssl_transformer(n_in: int, n_classes: int, *, width: float, adapters: bool,
                     dropout: float, layers: int):
    from contaffect.models import ssl_heads

    return ssl_heads.ClassTokenTransformer(n_in, n_classes, layers=layers,
                                           d_model=_scaled(384, width, 6), dropout=dropout)


_BUILDERS = {
    "lstm": _seed000_builder("Seed000LSTM"),
    "cnn": _seed000_builder("Seed000CNN"),
    "cnn_lstm": _seed000_builder("Seed000CNNLSTM"),
    "resnet": _resnet,
    "ssl_linear": _ssl_linear,
    "ssl_cnn_attn": _ssl_cnn_attn,
    "ssl_transformer": _ssl_transformer,
}
ARCHITECTURES = tuple(_BUILDERS)


def _build(arch: str, n_in: int, n_classes: int, width: float, adapters: bool, dropout: float,
           layers: int = 1):
    """The network ``arch`` for frames of ``n_in`` features (``layers`` stacked) and
    ``n_classes`` classes (see :data:`ARCHITECTURES`)."""
    return _BUILDERS[arch](n_in, n_classes, width=width, adapters=adapters, dropout=dropout,
                           layers=layers)


def pad_batch(arrays: Sequence[np.ndarray], min_frames: int = 1):
    """Zero-pad frame matrices to the longest of the batch (and at least ``min_frames``).

    Returns ``(x, lengths)``: a float tensor ``(B, T, d)`` and the valid lengths.
    """
    import torch

    T = max(max(a.shape[0] for a in arrays), min_frames)
    x = np.zeros((len(arrays), T, arrays[0].shape[1]), dtype=np.float32)
    for i, a in enumerate(arrays):
        x[i, :a.shape[0]] = a
    return torch.from_numpy(x), torch.tensor([max(a.shape[0], 1) for a in arrays])


def holdout(y: np.ndarray, speakers: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a seeded validation hold-out: whole speakers when possible.

    About ``fraction`` of the speakers (at least one, leaving at least two for
    training) are held out; if that hold-out misses a class, or there are fewer
    than four speakers, a stratified ``fraction`` of the utterances is held out
    instead. Every class keeps at least one training utterance.
    """
    n = len(y)
    mask = np.zeros(n, dtype=bool)
    if fraction <= 0 or n < 4:
        return mask
    rng = np.random.default_rng([seed, 5])
    classes = sorted(set(y.tolist()), key=str)
    spk = sorted(set(speakers.tolist()), key=str)
    if len(spk) >= 4:
        k = min(max(1, int(round(fraction * len(spk)))), len(spk) - 2)
        for _ in range(10):                            # a few draws to cover every class
            held = set(rng.choice(spk, k, replace=False).tolist())
            m = np.isin(speakers, list(held))
            if set(y[m].tolist()) == set(classes) and set(y[~m].tolist()) == set(classes):
                return m
    for c in classes:
        idx = np.flatnonzero(y == c)
        k = int(round(fraction * idx.size))
        if idx.size - k >= 1 and k >= 1:
            mask[rng.choice(idx, k, replace=False)] = True
    return mask


class SequenceClassifier(ClassifierMixin, BaseEstimator):
    """A seed paper's network on frame sequences (see the module docstring).

    Parameters
    ----------
    architecture
        ``lstm``, ``cnn``, ``cnn_lstm`` (seed 000), ``resnet`` (seed 001) or
        ``ssl_linear``, ``ssl_cnn_attn``, ``ssl_transformer`` (seed 004).
    adapters
        ResNet only: per-corpus residual adapters, batch norms and heads,
        trained round-robin.
    transfer
        ``none``, ``adapters`` or ``head`` (with ``fit(..., target_domain=)``).
    lr_steps
        Learning rates, each run until the validation metric stalls.
    optimizer
        ``sgd`` (SGD with ``momentum``; seeds 000 and 001) or ``adam``
        (SUPERB's downstream training, seed 004).
    momentum, weight_decay, batch_size
        Optimiser settings (seed 000 and 001: momentum 0.9; seed 001: batches
        of 64, L2 1e-6); ``momentum`` is SGD's only.
    max_grad_norm
        Gradients rescaled to at most this Euclidean norm before each step
        (SUPERB: 1.0); None: no clipping.
    max_epochs, patience
        Bound on epochs over all steps; epochs without improvement per step.
    validation_fraction
        Share of training speakers held out for early stopping (0: none, the
        last epoch is kept).
    early_stopping
        ``error`` (seed 000: validation error rate) or ``uar`` (seed 001).
    class_weight
        ``balanced`` (seed 001's class-weighted cross entropy) or ``none``.
    crop_s
        Training chunks of at most this many seconds, at random offsets
        (seed 001: 5 s); None: whole utterances.
    min_frames
        Batches are padded to at least this many frames (seed 000: 100).
    width
        ResNet filter multiplier (paper 1.0); for ``ssl_cnn_attn`` and
        ``ssl_transformer`` the multiplier of the network width (256, and
        384 rounded to a multiple of the 6 heads).
    dropout
        Dropout in the fully connected layers.
    standardise
        Z-score frames with the training frames' mean and deviation.
    random_state
        Seed of everything random.
    progress
        Show a progress bar over epochs.

    Attributes
    ----------
    model_
        The trained network.
    classes_
        Class labels, in the order of the score columns.
    n_features_in_, n_layers_in_
        Frame width and stacked layers of the training frames.
    history_
        One dict per epoch: stage, epoch, learning rate, loss, validation metric.
    """

    def __init__(self, architecture: str = "cnn", *, adapters: bool = False,
                 transfer: str = "none", lr_steps: tuple = (0.01,), optimizer: str = "sgd",
                 momentum: float = 0.9, weight_decay: float = 0.0,
                 max_grad_norm: float | None = None, batch_size: int = 32, max_epochs: int = 20,
                 patience: int = 3, validation_fraction: float = 0.15,
                 early_stopping: str = "error", class_weight: str = "none",
                 crop_s: float | None = None, min_frames: int = 100, width: float = 1.0,
                 dropout: float = 0.2, standardise: bool = True, random_state: int = 0,
                 progress: bool = False) -> None:
        self.architecture = architecture
        self.adapters = adapters
        self.transfer = transfer
        self.lr_steps = lr_steps
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.class_weight = class_weight
        self.crop_s = crop_s
        self.min_frames = min_frames
        self.width = width
        self.dropout = dropout
        self.standardise = standardise
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture {self.architecture!r}: choose from {ARCHITECTURES}")
        if self.transfer not in TRANSFERS:
            raise ConfigError(f"transfer {self.transfer!r}: choose from {TRANSFERS}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r}: choose from {OPTIMIZERS}")
        if self.max_grad_norm is not None and not float(self.max_grad_norm) > 0:
            raise ConfigError(f"max_grad_norm must be positive or None, got {self.max_grad_norm}")
        if (self.adapters or self.transfer != "none") and self.architecture != "resnet":
            raise ConfigError("adapters and transfer need architecture 'resnet'")
        if self.transfer != "none" and not self.adapters:
            raise ConfigError("transfer needs adapters=True (a branch per corpus)")
        if not self.lr_steps or any(float(v) <= 0 for v in self.lr_steps):
            raise ConfigError(f"lr_steps must be positive learning rates, got {self.lr_steps}")
        if self.early_stopping not in ("error", "uar"):
            raise ConfigError(f"early_stopping {self.early_stopping!r}: choose 'error' or 'uar'")
        if self.class_weight not in ("none", "balanced"):
            raise ConfigError(f"class_weight {self.class_weight!r}: choose 'none' or 'balanced'")
        if int(self.batch_size) < 2 or int(self.max_epochs) < 1 or int(self.patience) < 1:
            raise ConfigError("batch_size >= 2, max_epochs >= 1 and patience >= 1 are needed")

    def _sequences(self, X, check_width: bool = True) -> Sequences:
        if not isinstance(X, Sequences):
            raise ConfigError("neural sequence classifiers take frame sequences (a log-Mel "
                              "representation such as `logmel40_kaldi`), not "
                              f"{type(X).__name__} feature vectors")
        width = getattr(self, "n_features_in_", None) if check_width else None
        if width is not None and len(X) and X.n_features != width:
            raise ConfigError(f"frames have {X.n_features} features; the network was trained "
                              f"on {width}")
        layers = getattr(self, "n_layers_in_", 1)      # models fitted before layers: 1
        if width is not None and len(X) and X.layers != layers:
            raise ConfigError(f"frames hold {X.layers} stacked layers; the network was "
                              f"trained on {layers} (of {width // layers} features each)")
        return X

    # ------------------------------------------------------------------ fit
    def fit(self, X: Sequences, y, sample_weight=None, target_domain: str | None = None
            ) -> "SequenceClassifier":
        """Train on ``X`` (see the module docstring for the schedule and transfer)."""
        import torch

        self._check_params()
        X = self._sequences(X, check_width=False)
        y = np.asarray(y, dtype=object)
        if len(y) != len(X):
            raise ConfigError(f"{len(X)} sequences but {len(y)} labels")
        if not X.all_finite():
            raise ConfigError("frame sequences hold NaN or infinite values")
        self.classes_ = np.array(sorted(set(y.tolist()), key=str), dtype=object)
        if len(self.classes_) < 2:
            raise ConfigError(f"training labels have one class only ({self.classes_.tolist()})")
        w = (np.ones(len(y)) if sample_weight is None
             else np.asarray(sample_weight, dtype=np.float64))
        if w.shape != (len(y),) or (w < 0).any():
            raise ConfigError("sample_weight must be non-negative, one per sequence")
        codes = np.searchsorted(self.classes_.astype(str), y.astype(str))
        self.n_features_in_ = X.n_features
        self.n_layers_in_ = X.layers
        frames = np.concatenate(X.arrays) if len(X) else np.zeros((1, X.n_features))
        self.mean_ = frames.mean(0) if self.standardise else np.zeros(X.n_features)
        sd = frames.std(0) if self.standardise else np.ones(X.n_features)
        self.scale_ = np.where(sd < 1e-8, 1.0, sd)
        self.rate_ = X.rate
        domains = X.domains.astype(str)
        sources = sorted(set(domains.tolist()))
        staged = (self.transfer != "none" and target_domain is not None
                  and target_domain in sources and len(sources) > 1)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            self.model_ = _build(self.architecture, X.n_features, len(self.classes_),
                                 float(self.width), bool(self.adapters), float(self.dropout),
                                 X.layers)
            rng = np.random.default_rng([int(self.random_state), 17])
            self.history_ = []
            first = [d for d in sources if d != target_domain] if staged else sources
            rows = np.flatnonzero(np.isin(domains, first))
            self._add_domains(first)
            self._train(X, codes, w, rows, self.model_.parameters(), tuple(self.lr_steps),
                        rng, stage="train")
            if staged:
                self._add_domain(target_domain, like=first[0])
                self.model_.requires_grad_(False)
                params = self.model_.domain_parameters(target_domain,
                                                       heads_only=self.transfer == "head")
                for p in params:
                    p.requires_grad_(True)
                steps = tuple(self.lr_steps) if self.transfer == "adapters" else \
                    tuple(v for v in self.lr_steps if v <= 0.01 + 1e-12) or (0.01,)
                self._train(X, codes, w, np.flatnonzero(domains == target_domain), params,
                            steps, rng, stage=f"fine-tune {target_domain}")
                self.model_.requires_grad_(True)
        self.domains_ = list(getattr(self.model_, "domains", [""]))
        return self

    def _add_domains(self, names) -> None:
        for d in names:
            self._add_domain(d)

    def _add_domain(self, d: str, like: str | None = None) -> None:
        if hasattr(self.model_, "add_domain"):
            self.model_.add_domain(d, like=like)

    def _branch(self, d: str) -> str:
        return self.model_.branch(d) if hasattr(self.model_, "branch") else ""

    def _prepare(self, a: np.ndarray) -> np.ndarray:
        return ((a - self.mean_) / self.scale_).astype(np.float32)

    def _crop(self, a: np.ndarray, rng) -> np.ndarray:
        if self.crop_s is None:
            return a
        n = max(1, int(round(float(self.crop_s) * self.rate_)))
        if a.shape[0] <= n:
            return a
        s = int(rng.integers(0, a.shape[0] - n + 1))
        return a[s:s + n]

    def _bucketed(self, X: Sequences, rows: np.ndarray, rng) -> np.ndarray:
        """``rows`` shuffled, then sorted by length within pools of eight batches, so that
        consecutive ``batch_size`` chunks hold utterances of similar length."""
        b = int(self.batch_size)
        perm = rows[rng.permutation(rows.size)]
        lengths = np.array([X.arrays[i].shape[0] for i in perm])
        out = [perm[i:i + 8 * b][np.argsort(lengths[i:i + 8 * b], kind="stable")]
               for i in range(0, perm.size, 8 * b)]
        return np.concatenate(out) if out else perm

    def _batches(self, X: Sequences, rows: np.ndarray, rng) -> list:
        """One epoch's batches: ``(branch, row indices)``; round-robin over branches."""
        b = int(self.batch_size)
        branches = np.array([self._branch(d) for d in X.domains[rows].astype(str)], dtype=object)
        names = list(dict.fromkeys(branches.tolist()))
        if len(names) == 1:
            order = self._bucketed(X, rows, rng)
            chunks = [order[i:i + b] for i in range(0, order.size, b)]
            return [(names[0], chunks[k]) for k in rng.permutation(len(chunks))
                    if chunks[k].size >= 2]
        per = {n: rows[branches == n] for n in names}
        rounds = math.ceil(rows.size / (b * len(names)))
        queues = {n: [] for n in names}
        out = []
        for _ in range(rounds):
            for n in names:
                if len(queues[n]) < b:
                    queues[n] = queues[n] + self._bucketed(X, per[n], rng).tolist()
                chunk, queues[n] = queues[n][:b], queues[n][b:]
                if len(chunk) >= 2:
                    out.append((n, np.asarray(chunk)))
        return out

    def _train(self, X, codes, w, rows, params, lr_steps, rng, stage: str) -> None:
        import torch
        from tqdm.auto import tqdm

        params = [p for p in params if p.requires_grad]
        # the hold-out is drawn per branch, so that every corpus keeps training rows
        branch = np.array([self._branch(d) for d in X.domains[rows].astype(str)], dtype=object)
        val = np.zeros(rows.size, dtype=bool)
        for b in dict.fromkeys(branch.tolist()):
            k = np.flatnonzero(branch == b)
            val[k] = holdout(codes[rows][k], X.speakers[rows][k],
                             float(self.validation_fraction), int(self.random_state))
        fit_rows, val_rows = rows[~val], rows[val]
        K = len(self.classes_)
        cw = np.ones(K)
        if self.class_weight == "balanced":
            counts = np.bincount(codes[fit_rows], weights=w[fit_rows], minlength=K)
            cw = np.where(counts > 0, counts.sum() / (K * np.maximum(counts, 1e-12)), 0.0)
        cw_t = torch.tensor(cw, dtype=torch.float32)
        if self.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=float(lr_steps[0]),
                                   weight_decay=float(self.weight_decay))
        else:
            opt = torch.optim.SGD(params, lr=float(lr_steps[0]), momentum=float(self.momentum),
                                  weight_decay=float(self.weight_decay))
        best, best_state, step, since = -np.inf, None, 0, 0
        bar = tqdm(total=int(self.max_epochs), desc=f"{self.architecture} ({stage})",
                   unit="epoch", disable=not self.progress, leave=False)
        for epoch in range(int(self.max_epochs)):
            self.model_.train()
            total, seen = 0.0, 0
            for branch, idx in self._batches(X, fit_rows, rng):
                xb, lb = pad_batch([self._prepare(self._crop(X.arrays[i], rng)) for i in idx],
                                   int(self.min_frames))
                logits = self.model_(xb, lb, branch)
                target = torch.from_numpy(codes[idx].astype(np.int64))
                per = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                sw = torch.from_numpy(w[idx].astype(np.float32)) * cw_t[target]
                loss = (per * sw).sum() / sw.sum().clamp(min=1e-12)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, float(self.max_grad_norm))
                opt.step()
                total += float(loss.detach()) * idx.size
                seen += idx.size
            self._recalibrate(X, fit_rows, rng)
            score = self._validate(X, codes, val_rows) if val_rows.size else float(epoch)
            self.history_.append(dict(stage=stage, epoch=epoch + 1, lr=opt.param_groups[0]["lr"],
                                      loss=total / max(seen, 1), validation=score))
            bar.update(1)
            bar.set_postfix(loss=f"{total / max(seen, 1):.3f}", val=f"{score:.3f}")
            if score > best + 1e-9:
                best, since = score, 0
                best_state = copy.deepcopy(self.model_.state_dict())
            else:
                since += 1
            if since >= int(self.patience):
                self.model_.load_state_dict(best_state)
                step += 1
                since = 0
                if step >= len(lr_steps):
                    break
                for g in opt.param_groups:
                    g["lr"] = float(lr_steps[step])
        bar.close()
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.best_validation_ = best

    def _recalibrate(self, X: Sequences, rows: np.ndarray, rng) -> None:
        """Batch-norm statistics re-estimated on the training rows with the current weights.

        The running averages of training (momentum 0.1) lag far behind on small
        corpora: after 40 updates a running variance still holds 0.9^40 of its
        initial 1, while the pooled features' true variance can be 1e-6, and the
        network then predicts one class in evaluation. A pass without gradients
        in training mode with a cumulative average ("precise BN") gives the
        statistics of the weights as they are. Branch-specific norms see their
        own corpus' batches only.
        """
        import torch

        bns = [m for m in self.model_.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if hasattr(self.model_, "_domain_modules"):      # only the branches these rows use
            present = {self._branch(d) for d in X.domains[rows].astype(str)}
            subs = [(key, sub) for mods in self.model_._domain_modules()
                    for key, sub in mods.by.items()]
            owned = {id(m) for _, sub in subs for m in sub.modules()}
            mine = {id(m) for key, sub in subs if key in present for m in sub.modules()}
            bns = [m for m in bns if id(m) not in owned or id(m) in mine]
        if not bns or not rows.size:
            return
        saved = [(m, m.momentum) for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        self.model_.train()
        with torch.no_grad():
            for branch, idx in self._batches(X, rows, rng):
                xb, lb = pad_batch([self._prepare(self._crop(X.arrays[i], rng)) for i in idx],
                                   int(self.min_frames))
                self.model_(xb, lb, branch)
        for m, mom in saved:
            m.momentum = mom

    def _validate(self, X, codes, rows) -> float:
        from contaffect.metrics import uar

        S = self._scores(X[rows])
        pred = S.argmax(1)
        if self.early_stopping == "error":
            return float((pred == codes[rows]).mean())         # 1 - error rate
        return float(uar(codes[rows].tolist(), pred.tolist(), labels=list(range(S.shape[1]))))

    # ------------------------------------------------------------------ inference
    def _forward(self, X: Sequences, fn) -> list:
        """``fn(model, x, lengths, branch)`` on length-sorted batches of each branch."""
        import torch

        order = np.argsort(X.lengths(), kind="stable")
        out: list = [None] * len(X)
        self.model_.eval()
        with torch.no_grad():
            for i in range(0, order.size, max(int(self.batch_size), 1)):
                idx = order[i:i + int(self.batch_size)]
                xb, lb = pad_batch([self._prepare(X.arrays[j]) for j in idx],
                                   int(self.min_frames))
                for j, v in zip(idx, fn(xb, lb, X.domains[idx].astype(str))):
                    out[j] = v
        return out

    def _branches_for(self, d: str) -> list[str]:
        own = self._branch(d)
        known = list(getattr(self.model_, "domains", [own]))
        return [own] if own in known else known

    def _scores(self, X: Sequences) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.classes_)))
        return np.vstack(self._forward(X, self._score_batch))

    def _score_batch(self, xb, lb, doms) -> list:
        """Log-probabilities of a batch; items sharing branches run together."""
        import torch

        groups: dict = {}
        for k, d in enumerate(doms):
            groups.setdefault(tuple(self._branches_for(d)), []).append(k)
        res = [None] * len(doms)
        for branches, ks in groups.items():
            sel = torch.tensor(ks)
            logp = torch.stack([torch.log_softmax(self.model_(xb[sel], lb[sel], b), 1)
                                for b in branches])
            vals = (torch.logsumexp(logp, 0) - math.log(len(branches))).numpy()
            for k, v in zip(ks, vals):
                res[k] = v
        return res

    def decision_function(self, X: Sequences) -> np.ndarray:
        """Log-probabilities ``(n, n_classes)``, columns in ``classes_`` order."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        return self._scores(self._sequences(X))

    def predict_proba(self, X: Sequences) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        return np.exp(self.decision_function(X))

    def predict(self, X: Sequences) -> np.ndarray:
        """The most probable class of each sequence."""
        return self.classes_[self.decision_function(X).argmax(1)]

    def embed(self, X: Sequences) -> np.ndarray:
        """Pooled embeddings ``(n, d)``: seed 000's last FC layer, seed 001's attention output,
        seed 004's pooled vector (mean, attention output or class token).

        An utterance of a corpus without a branch is embedded through the first
        branch the model has.
        """
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        X = self._sequences(X)

        def fn(xb, lb, doms):
            res = [None] * len(doms)
            groups: dict = {}
            for k, d in enumerate(doms):
                groups.setdefault(self._branches_for(d)[0], []).append(k)
            for b, ks in groups.items():
                sel = torch.tensor(ks)
                for k, v in zip(ks, self.model_.embed(xb[sel], lb[sel], b).numpy()):
                    res[k] = v
            return res
        if not len(X):
            return np.zeros((0, self.model_.embedding_size))
        return np.vstack(self._forward(X, fn)).astype(np.float64)

    def n_parameters(self) -> int:
        """Trainable parameters of the network as fitted."""
        return int(sum(p.numel() for p in self.model_.parameters()))
