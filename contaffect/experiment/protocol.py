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
from contaffect.experiment.timing import stage
from contaffect.experiment.data import PreparedCorpus, gold_traces
from contaffect.labels import DEFAULT_RATE, TraceScaler
from contaffect.metrics import trace_scores
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
        ``{name: {dim: scores}}`` with the scores of
        :func:`~contaffect.metrics.trace_scores` (CC and CCC on the concatenation
        and as per-recording means, per recording, masked frames left out) and
        ``cc_per_recording`` ({id: cc}). A second call raises :class:`ProtocolError`.
        """
        if self._scored:
            raise ProtocolError(f"test corpus {self.name!r} was already scored: the protocol "
                                "touches the test labels once")
        self._scored = True
        return {name: {dim: score_traces(self._gold[dim], preds, j) for j, dim in enumerate(dims)}
                for name, preds in predictions.items()}

    def gold_for_plots(self) -> dict[str, dict[str, np.ndarray]]:
        """The labels, for plotting only after scoring."""
        if not self._scored:
            raise ProtocolError("test labels are only available for plots after scoring")
        return self._gold


def score_traces(gold: dict[str, np.ndarray], preds: dict[str, np.ndarray], column: int = 0) -> dict:
    """:func:`~contaffect.metrics.trace_scores` of one output column, with ``cc_per_recording``."""
    cols = {}
    for rid in gold:
        p = np.asarray(preds[rid])
        cols[rid] = p[:, column] if p.ndim == 2 else p
    out = trace_scores(gold, cols)
    out["cc_per_recording"] = {rid: v["cc"] for rid, v in out["per_recording"].items()}
    return out


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
    postprocessors: dict = field(default_factory=dict)   # dim -> fitted PostProcessor
    runtime: list = field(default_factory=list)    # per epoch: device, threads, processes, ...

    def recording_rows(self, seed: int) -> list[dict]:
        """CC and CCC of every test recording (best epoch), one row per recording and
        dimension, and the same after post-processing (``postprocessed`` true) where it ran."""
        return [dict(train=self.train, val=self.val, test=self.test, dimension=dim, seed=seed,
                     recording=rid, postprocessed=key == "best_pp", **v)
                for key in ("best", "best_pp") if key in self.scores
                for dim in self.dims
                for rid, v in self.scores[key][dim]["per_recording"].items()]

    def rows(self, seed: int) -> list[dict]:
        """Table rows, one per dimension (the shape of Table 1 of the paper)."""
        out = []
        for dim in self.dims:
            out.append(dict(
                train=self.train, val=self.val, test=self.test, dimension=dim, seed=seed,
                val_cc_epoch1=self.val_cc["epoch1"][dim], test_cc_epoch1=self.scores["epoch1"][dim]["cc"],
                val_cc_best=self.val_cc["best"][dim], test_cc_best=self.scores["best"][dim]["cc"],
                test_ccc_best=self.scores["best"][dim]["ccc"],
                test_cc_best_rec=self.scores["best"][dim]["cc_mean_rec"],
                test_ccc_best_rec=self.scores["best"][dim]["ccc_mean_rec"],
                best_epoch=self.best_epoch, test_frames=self.scores["best"][dim]["frames"],
                test_masked=self.scores["best"][dim]["masked"],
            ))
            if "best_pp" in self.scores:
                pp, sc = self.postprocessors[dim], self.scores["best_pp"][dim]
                out[-1].update(
                    test_cc_best_pp=sc["cc"], test_ccc_best_pp=sc["ccc"],
                    test_cc_best_rec_pp=sc["cc_mean_rec"], test_ccc_best_rec_pp=sc["ccc_mean_rec"],
                    pp_window_s=pp.window_s_, pp_centre=pp.centre_, pp_scale=pp.scale_,
                    pp_shift_s=pp.shift_s_, val_score_before_pp=pp.score_before_,
                    val_score_after_pp=pp.score_after_)
        return out

    def postprocess_rows(self, seed: int) -> list[dict]:
        """Test CC / CCC after each prefix of the post-processing chain (the per-step ablation)."""
        out = []
        for dim in self.dims:
            for name in ["best"] + [k for k in self.scores if k.startswith("pp:")]:
                sc = self.scores[name][dim]
                out.append(dict(train=self.train, val=self.val, test=self.test, dimension=dim,
                                seed=seed, steps="none" if name == "best" else name[3:],
                                test_cc=sc["cc"], test_ccc=sc["ccc"],
                                test_cc_rec=sc["cc_mean_rec"], test_ccc_rec=sc["ccc_mean_rec"]))
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
    postprocessors: dict = field(default_factory=dict)
    val_predictions: dict = field(default_factory=dict)
    train_stats: dict = field(default_factory=dict)
    #: per epoch, how it ran (:attr:`contaffect.models.train.TrainResult.runtime`)
    runtime: list = field(default_factory=list)

    def predict(self, features: dict[str, np.ndarray], rate: float,
                epoch: int | None = None, *, postprocess: bool = False) -> dict[str, np.ndarray]:
        """Overlap-averaged frame predictions ``(n, len(dims))`` per recording.

        On the training corpus' label scale (scaling undone); ``epoch``
        defaults to the best one. ``postprocess`` applies the chain chosen
        on the validation corpus (:attr:`postprocessors`, one per dimension).
        """
        if postprocess:
            if not self.postprocessors:
                raise ProtocolError("this model has no post-processing: fit it with "
                                    "train_source(..., postprocess=PostProcessConfig(...))")
            raw = self.predict(features, rate, epoch)
            return postprocess_columns(raw, self.dims, self.postprocessors)
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
    postprocess=None,
) -> SourceModel:
    """Train on one corpus, rank epochs by CC on another (Kaya, Fedotov et al. 2018, Sec. 3.3).

    The min/max scaler is fit on the training corpus only; the validation
    corpus only ranks epochs and, with ``postprocess`` (a
    :class:`~contaffect.labels.postprocess.PostProcessConfig` with steps),
    chooses the post-processing of the best epoch's predictions (AVEC 2016's
    chain, fit on validation, centred and scaled to the training labels).
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
    with stage("training (LSTMs)"):
        result = train(model, config, train_set, val_set, checkpoint_dir=checkpoint_dir,
                       progress=progress,
                       desc=desc or f"{train_name}->{val_name} {'+'.join(dims)}")
    src = SourceModel(train_name, val_name, tuple(dims), model, config, result.best_epoch,
                      result.history, result.states, scalers, train_set.X.shape[1],
                      runtime=result.runtime)
    if postprocess is not None and postprocess.chain:
        with stage("post-processing (fit on validation)"):
            fit_postprocessing(src, tr, va, postprocess)
    return src


def postprocess_columns(preds: dict[str, np.ndarray], dims: tuple[str, ...],
                        processors: dict) -> dict[str, np.ndarray]:
    """Apply one fitted post-processor per output column to ``(n, len(dims))`` predictions."""
    cols = [processors[d].transform({k: v[:, j] for k, v in preds.items()})
            for j, d in enumerate(dims)]
    return {k: np.column_stack([c[k] for c in cols]) for k in preds}


def fit_postprocessing(src: SourceModel, train: PreparedCorpus, val: PreparedCorpus,
                       config) -> SourceModel:
    """Choose each dimension's post-processing on the validation corpus (best epoch).

    The training labels' mean and standard deviation (masked frames left
    out, unscaled: the predictions are mapped back to that scale) are the
    targets of centring and scaling; the validation corpus' labels only
    score the candidate settings. Nothing of the test corpus is read.
    """
    from contaffect.labels.postprocess import PostProcessor

    src.val_predictions = src.predict(val.features, val.rate)
    for j, dim in enumerate(src.dims):
        y = np.concatenate([v[np.isfinite(v)] for v in train.gold[dim].values()])
        src.train_stats[dim] = (float(y.mean()), float(y.std()))
        src.postprocessors[dim] = PostProcessor(config, val.rate).fit(
            {k: v[:, j] for k, v in src.val_predictions.items()}, val.gold[dim],
            *src.train_stats[dim])
    return src


def chain_prefixes(src: SourceModel, val: PreparedCorpus, config) -> dict[str, dict]:
    """Post-processors fit with each prefix of the chain (the per-step ablation).

    ``{"smooth": {dim: PostProcessor}, "smooth+centre": ..., ...}``; the last
    prefix is the full chain (:attr:`SourceModel.postprocessors`).
    """
    from dataclasses import replace

    from contaffect.labels.postprocess import PostProcessor

    out = {}
    chain = tuple(config.chain)
    for i in range(1, len(chain) + 1):
        name = "+".join(chain[:i])
        if i == len(chain):
            out[name] = src.postprocessors
            continue
        cfg = replace(config, steps=chain[:i])
        out[name] = {d: PostProcessor(cfg, val.rate).fit(
            {k: v[:, j] for k, v in src.val_predictions.items()}, val.gold[d],
            *src.train_stats[d]) for j, d in enumerate(src.dims)}
    return out


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
    postprocess=None,
) -> CrossCorpusResult:
    """Train one model (one output per dimension in ``dims``) and score it across corpora.

    The scaler is fit on the training corpus' gold standard; predictions are
    mapped back through it before scoring, so CCC compares values on the
    training corpus' label scale with the test corpus' labels. With
    ``postprocess`` the best epoch is also scored after the post-processing
    chosen on the validation corpus (``best_pp``), and after each prefix of
    the chain (``pp:<steps>``, the per-step ablation); the test labels are
    read once, for all of them together.
    """
    if len({train_name, val_name, test_name}) < 3:
        raise ProtocolError(f"train, validation and test corpora must differ, got "
                            f"{train_name}, {val_name}, {test_name}")
    held = HeldOut(prepared[test_name])
    src = train_source(prepared, train_name, val_name, dims, model, config,
                       scale_labels=scale_labels, checkpoint_dir=checkpoint_dir,
                       progress=progress,
                       desc=f"{train_name}->{val_name}->{test_name} {'+'.join(dims)}",
                       postprocess=postprocess)
    preds = {name: src.predict(held.features, held.rate, epoch)
             for name, epoch in (("epoch1", 1), ("best", src.best_epoch))}
    if src.postprocessors:
        with stage("post-processing (fit on validation)"):
            prefixes = chain_prefixes(src, prepared[val_name], postprocess)
        for name, procs in prefixes.items():
            preds[f"pp:{name}"] = postprocess_columns(preds["best"], src.dims, procs)
        preds["best_pp"] = preds[f"pp:{'+'.join(postprocess.chain)}"]
    scores = held.score(dims, preds)
    hist = src.history
    val_cc = {"epoch1": dict(zip(dims, hist[0]["val_cc"])),
              "best": dict(zip(dims, hist[src.best_epoch - 1]["val_cc"]))}
    return CrossCorpusResult(train_name, val_name, test_name, dims, src.best_epoch, hist,
                             val_cc, scores, preds, held.gold_for_plots(), held.rate,
                             postprocessors=src.postprocessors, runtime=src.runtime)
