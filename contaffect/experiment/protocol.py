"""The cross-corpus protocol: train on A, pick the epoch on B, test on C, once.

Kaya, Fedotov et al. (2018, Sec. 3.3): "we train on one, validate on another
(used to optimize the number of epochs) and test on the third corpus".
Everything fit on labels (the min/max scaler) is fit on the training corpus;
the validation corpus only ranks epochs; the test corpus is wrapped in
:class:`HeldOut`, which hides its labels and scores predictions exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contaffect.errors import ProtocolError
from contaffect.experiment.data import PreparedCorpus, gold_traces
from contaffect.labels import DEFAULT_RATE, TraceScaler
from contaffect.metrics import ccc, pearson
from contaffect.models.config import ModelConfig, TrainConfig


class HeldOut:
    """A test corpus whose labels can be used once, to score final predictions.

    Parameters
    ----------
    prepared
        The prepared test corpus.
    """

    def __init__(self, prepared: PreparedCorpus) -> None:
        self.name = prepared.name
        self.features = prepared.features
        self.rate = prepared.rate
        self._gold = prepared.gold
        self._scored = False

    def score(self, dims: tuple[str, ...],
              predictions: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, dict]]:
        """Score named prediction sets (e.g. ``epoch1``, ``best``) against the labels.

        ``predictions[name][rec_id]`` is ``(n,)`` or ``(n, len(dims))``. Returns
        ``{name: {dim: {"cc", "ccc", "cc_per_recording": {id: cc}}}}``. A second
        call raises :class:`ProtocolError`.
        """
        if self._scored:
            raise ProtocolError(f"test corpus {self.name!r} was already scored: the protocol "
                                "touches the test labels once")
        self._scored = True
        out: dict[str, dict[str, dict]] = {}
        for name, preds in predictions.items():
            out[name] = {}
            for j, dim in enumerate(dims):
                ys, ps, per = [], [], {}
                for rid, gold in self._gold[dim].items():
                    p = np.asarray(preds[rid])
                    p = p[:, j] if p.ndim == 2 else p
                    ys.append(gold)
                    ps.append(p)
                    per[rid] = pearson(gold, p)
                y, p = np.concatenate(ys), np.concatenate(ps)
                out[name][dim] = dict(cc=pearson(y, p), ccc=ccc(y, p), cc_per_recording=per)
        return out

    def gold_for_plots(self) -> dict[str, dict[str, np.ndarray]]:
        """The labels, for plotting only after scoring."""
        if not self._scored:
            raise ProtocolError("test labels are only available for plots after scoring")
        return self._gold


@dataclass
class CrossCorpusResult:
    """One train / validation / test assignment, one model."""

    train: str
    val: str
    test: str
    dims: tuple[str, ...]
    best_epoch: int
    history: list[dict]
    val_cc: dict[str, dict[str, float]]          # {"epoch1"|"best": {dim: cc}}
    scores: dict = field(default_factory=dict)     # HeldOut.score output
    predictions: dict = field(default_factory=dict)
    gold: dict = field(default_factory=dict)
    rate: float = DEFAULT_RATE                     # frame rate of predictions and gold

    def rows(self, seed: int) -> list[dict]:
        """Table rows, one per dimension (the shape of Table 1 of the paper)."""
        out = []
        for dim in self.dims:
            out.append(dict(
                train=self.train, val=self.val, test=self.test, dimension=dim, seed=seed,
                val_cc_epoch1=self.val_cc["epoch1"][dim], test_cc_epoch1=self.scores["epoch1"][dim]["cc"],
                val_cc_best=self.val_cc["best"][dim], test_cc_best=self.scores["best"][dim]["cc"],
                test_ccc_best=self.scores["best"][dim]["ccc"], best_epoch=self.best_epoch,
            ))
        return out


@dataclass
class SourceModel:
    """A model trained on one corpus with its epoch picked on another.

    Attributes
    ----------
    train, val
        Corpus names.
    dims
        Output dimensions, in column order.
    best_epoch
        Epoch with the highest mean validation CC.
    history
        Per-epoch losses and validation CC.
    states
        Epoch -> state dict.
    scalers
        Dimension -> :class:`~contaffect.labels.TraceScaler` fit on the
        training corpus' gold standard (empty without label scaling).
    n_features
        Input size.
    """

    train: str
    val: str
    dims: tuple[str, ...]
    model: ModelConfig
    config: TrainConfig
    best_epoch: int
    history: list[dict]
    states: dict
    scalers: dict
    n_features: int

    def predict(self, features: dict[str, np.ndarray], rate: float,
                epoch: int | None = None) -> dict[str, np.ndarray]:
        """Overlap-averaged frame predictions ``(n, len(dims))`` per recording.

        On the training corpus' label scale (scaling undone); ``epoch``
        defaults to the best one.
        """
        from contaffect.models.train import SequenceSet, load_state, predict_frames

        data = SequenceSet(features, None, rate)
        net = load_state(self.model, self.n_features, len(self.dims),
                         self.states[epoch or self.best_epoch], self.config.device)
        p = predict_frames(net, data, self.model)
        if self.scalers:
            p = np.column_stack([self.scalers[d].inverse_transform(p[:, j])
                                 for j, d in enumerate(self.dims)])
        return data.split(p)


def train_source(
    prepared: dict[str, PreparedCorpus],
    train_name: str,
    val_name: str,
    dims: tuple[str, ...],
    model: ModelConfig,
    config: TrainConfig,
    *,
    scale_labels: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> SourceModel:
    """Train on one corpus, rank epochs by CC on another (Kaya, Fedotov et al. 2018, Sec. 3.3).

    The min/max scaler is fit on the training corpus only; the validation
    corpus only ranks epochs.
    """
    if train_name == val_name:
        raise ProtocolError(f"training and validation corpora must differ, got {train_name} twice")
    from contaffect.models.train import SequenceSet, train

    tr, va = prepared[train_name], prepared[val_name]
    scalers, targets = {}, {}
    for dim in dims:
        if scale_labels:
            scalers[dim] = TraceScaler().fit(gold_traces(tr, dim))
            targets[dim] = {k: scalers[dim].scale(v) for k, v in tr.gold[dim].items()}
        else:
            targets[dim] = tr.gold[dim]
    stack = {k: np.column_stack([targets[d][k] for d in dims]) for k in tr.features}
    train_set = SequenceSet(tr.features, stack, tr.rate)
    val_set = SequenceSet(va.features, {k: np.column_stack([va.gold[d][k] for d in dims])
                                        for k in va.features}, va.rate)
    from contaffect.experiment.timing import stage

    with stage("training (LSTMs)"):
        result = train(model, config, train_set, val_set, checkpoint_dir=checkpoint_dir,
                       progress=progress,
                       desc=desc or f"{train_name}->{val_name} {'+'.join(dims)}")
    return SourceModel(train_name, val_name, tuple(dims), model, config, result.best_epoch,
                       result.history, result.states, scalers, train_set.X.shape[1])


def run_cross_corpus(
    prepared: dict[str, PreparedCorpus],
    train_name: str,
    val_name: str,
    test_name: str,
    dims: tuple[str, ...],
    model: ModelConfig,
    config: TrainConfig,
    *,
    scale_labels: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> CrossCorpusResult:
    """Train one model (one output per dimension in ``dims``) and score it across corpora.

    The scaler is fit on the training corpus' gold standard; predictions are
    mapped back through it before scoring, so CCC compares values on the
    training corpus' label scale with the test corpus' labels.
    """
    if len({train_name, val_name, test_name}) < 3:
        raise ProtocolError(f"train, validation and test corpora must differ, got "
                            f"{train_name}, {val_name}, {test_name}")
    held = HeldOut(prepared[test_name])
    src = train_source(prepared, train_name, val_name, dims, model, config,
                       scale_labels=scale_labels, checkpoint_dir=checkpoint_dir,
                       progress=progress,
                       desc=f"{train_name}->{val_name}->{test_name} {'+'.join(dims)}")
    preds = {name: src.predict(held.features, held.rate, epoch)
             for name, epoch in (("epoch1", 1), ("best", src.best_epoch))}
    scores = held.score(dims, preds)
    hist = src.history
    val_cc = {"epoch1": dict(zip(dims, hist[0]["val_cc"])),
              "best": dict(zip(dims, hist[src.best_epoch - 1]["val_cc"]))}
    return CrossCorpusResult(train_name, val_name, test_name, dims, src.best_epoch, hist,
                             val_cc, scores, preds, held.gold_for_plots(), held.rate)
