"""From a corpus on disk to aligned, normalised frames and gold-standard targets.

corpus -> features (store, cached) -> align to the label grid -> normalise per
speaker -> labels: resample -> fuse -> lag -> (scaling is fit later, on the
training corpus only) -> frames and targets cut to a common length.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError, TraceError
from contaffect.experiment.config import CorpusSpec
from contaffect.features.config import FeatureConfig, parts
from contaffect.features.smile import get_feature_set
from contaffect.features.ssl_config import SSLConfig
from contaffect.features import (
    FeatureStore,
    align_to_grid,
    extract_corpus,
    load_corpus_features,
)
from contaffect.features.normalise import apply_zscore, zscore_params
from contaffect.features.packed import pack
from contaffect.labels import DEFAULT_RATE, LabelConfig, Trace
from contaffect.labels.coverage import gold_on_grid

log = logging.getLogger(__name__)


@dataclass
class PreparedCorpus:
    """A corpus ready for windowing.

    Attributes
    ----------
    name
        Corpus name.
    corpus
        The corpus itself.
    features
        Recording id -> normalised ``(n, d)`` float32 at ``rate`` Hz.
    gold
        Dimension -> recording id -> ``(n,)`` gold standard (unscaled),
        same ``n`` as the features; NaN on frames without a label (masked:
        never trained on or scored, see :mod:`contaffect.labels.coverage`).
    rate
        Frame rate.
    speakers
        Recording id -> speaker.
    """

    name: str
    corpus: Corpus
    features: dict[str, np.ndarray]
    gold: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    rate: float = DEFAULT_RATE
    speakers: dict[str, str] = field(default_factory=dict)
    padded: dict[str, int] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        """Total frames."""
        return sum(v.shape[0] for v in self.features.values())

    def masked(self, dim: str) -> int:
        """Frames of one dimension without a label (NaN gold)."""
        return int(sum(np.isnan(v).sum() for v in self.gold[dim].values()))

    def fingerprint(self, dims: tuple[str, ...] = ()) -> str:
        """SHA-256 of what a model sees of this corpus: ids, features and gold standards.

        Keys model caches by content: a changed label file, feature or lag
        gives another fingerprint, so a model is retrained instead of reused.
        """
        h = hashlib.sha256()
        for rid in sorted(self.features):
            h.update(rid.encode())
            h.update(np.ascontiguousarray(self.features[rid], dtype=np.float32).tobytes())
            for d in dims:
                h.update(d.encode())
                h.update(np.ascontiguousarray(self.gold[d][rid], dtype=np.float64).tobytes())
        return h.hexdigest()


def prepare_corpus(
    corpus: Corpus,
    store: FeatureStore | str | Path,
    labels: LabelConfig,
    *,
    dimensions: tuple[str, ...] = ("arousal", "valence"),
    feature_set: str = FeatureConfig.set,
    normalisation: str = FeatureConfig.normalisation,
    on_mismatch: str = CorpusSpec.on_mismatch,
    tolerance_s: float = 0.25,
    workers: int = FeatureConfig.workers,
    progress: bool = True,
    ssl: SSLConfig | None = None,
    scheduler: str = FeatureConfig.scheduler,
    frames: dict[str, np.ndarray] | None = None,
) -> PreparedCorpus:
    """Extract (or read) features, align, normalise, and process the traces.

    Parameters
    ----------
    corpus
        A dimensional corpus (or categorical, with ``dimensions=()``).
    store
        Feature store.
    labels
        Label processing (rate, fusion, lag per dimension). Scaling is not
        applied here: it is fit on the training corpus by the protocol.
    dimensions
        Dimensions to prepare.
    feature_set
        A frame-level set (an LLD set, ``ssl:<model>``), or several joined by
        ``+``: each is aligned to the label grid, then their columns are put
        side by side (early fusion), cut to the shortest.
    normalisation
        ``speaker`` (default), ``recording``, ``corpus`` or ``none``.
    on_mismatch, tolerance_s
        What to do when a trace does not cover its audio (see
        :func:`~contaffect.labels.coverage.gold_on_grid`): by default the
        unannotated frames are masked.
    workers, progress
        Extraction settings.
    ssl
        The ``[ssl]`` options of ``ssl:<model>`` sets.
    scheduler
        ``[features] scheduler``: ``""`` extracts on ``workers`` local
        threads, a Dask scheduler address or file on that cluster.
    frames
        :func:`grid_features` of this corpus under the same feature options,
        computed once and shared by several label settings (each cuts views of
        the arrays; none is copied or changed).
    """
    missing = [d for d in dimensions if d not in corpus.dimensions]
    if missing:
        raise ConfigError(f"corpus {corpus.name!r} has no {missing} traces "
                          f"(it has {corpus.dimensions or 'none'})")
    if frames is None:
        frames = grid_features(corpus, store, labels.rate, feature_set=feature_set,
                               normalisation=normalisation, workers=workers, progress=progress,
                               ssl=ssl, scheduler=scheduler)
    feats = dict(frames)                     # cut below by rebinding: the caller's stays whole
    speakers = {r.id: r.speaker for r in corpus}
    gold: dict[str, dict[str, np.ndarray]] = {d: {} for d in dimensions}
    masked = {d: 0 for d in dimensions}
    padded = {d: 0 for d in dimensions}
    for rec in corpus:
        n = feats[rec.id].shape[0]
        for dim in dimensions:
            try:
                g = gold_on_grid(rec.traces[dim], n, labels, dim, on_mismatch=on_mismatch,
                                 tolerance_s=tolerance_s)
            except TraceError as exc:
                raise TraceError(f"{corpus.name}/{rec.id} {dim}: {exc}") from None
            gold[dim][rec.id] = g.values
            padded[dim] += g.padded
            n = min(n, g.values.shape[0])
        if n == 0:
            raise TraceError(f"{corpus.name}/{rec.id}: no frame is left once the features are "
                             f"cut to the traces (on_mismatch={on_mismatch!r})")
        feats[rec.id] = feats[rec.id][:n]
        for dim in dimensions:
            gold[dim][rec.id] = gold[dim][rec.id][:n]
            masked[dim] += int(np.isnan(gold[dim][rec.id]).sum())
    total = sum(v.shape[0] for v in feats.values())
    for dim in dimensions:
        if padded[dim]:
            log.warning("%s %s: %d of %d frames (%.1f %%) carry invented labels (on_mismatch=%r, "
                        "lag_mode=%r repeat end values); 'mask' leaves them unlabelled",
                        corpus.name, dim, padded[dim], total, 100 * padded[dim] / max(total, 1),
                        on_mismatch, labels.lag_mode)
        if masked[dim]:
            log.info("%s %s: %d of %d frames (%.1f %%) have no label and are masked",
                     corpus.name, dim, masked[dim], total, 100 * masked[dim] / max(total, 1))
    return PreparedCorpus(corpus.name, corpus, feats, gold, labels.rate, speakers,
                          padded=padded)


def grid_features(
    corpus: Corpus,
    store: FeatureStore | str | Path,
    rate: float = DEFAULT_RATE,
    *,
    feature_set: str = FeatureConfig.set,
    normalisation: str = FeatureConfig.normalisation,
    workers: int = FeatureConfig.workers,
    progress: bool = True,
    ssl: SSLConfig | None = None,
    scheduler: str = FeatureConfig.scheduler,
) -> dict[str, np.ndarray]:
    """Each recording's features on the label grid, normalised: the label-free half of
    :func:`prepare_corpus` (its parameters).

    Frames are aligned as each store entry is read, so the full-rate frames of
    only one recording are in memory at a time (at 100 Hz they are four times
    the grid's 25 Hz). The normalised frames are row views of one float32
    block (:func:`~contaffect.features.packed.pack`), in corpus order, so that
    :class:`~contaffect.models.train.SequenceSet` stacks them without a copy.
    """
    blocks = []
    for part in parts(feature_set):
        fs = get_feature_set(part, ssl)
        report = extract_corpus(corpus, store, fs, workers=workers, progress=progress,
                                scheduler=scheduler)
        if report.extracted or report.skipped:
            for line in report.lines():      # the summary, then resampling notes and skips
                log.info("%s", line)
        blocks.append(load_corpus_features(
            corpus, store, fs, transform=lambda f: align_to_grid(f, rate).values))
    feats = _side_by_side(blocks)
    del blocks
    params = zscore_params(feats, {r.id: r.speaker for r in corpus}, normalisation)
    # normalised into one block, each recording's input freed once written: the stacked
    # training matrix is then a view of it (SequenceSet), not a second copy
    return pack(feats, lambda rid, x: apply_zscore(x, params[rid]), consume=True)


def _side_by_side(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Early fusion: each recording's aligned blocks as columns, cut to the shortest block."""
    if len(blocks) == 1:
        return blocks[0]
    out = {}
    for rid in blocks[0]:
        n = min(b[rid].shape[0] for b in blocks)
        out[rid] = np.hstack([b[rid][:n] for b in blocks]).astype(np.float32)
    return out


def gold_traces(prepared: PreparedCorpus, dim: str) -> list[Trace]:
    """The gold standards of one dimension as traces, masked frames left out (for a scaler)."""
    out = []
    for v in prepared.gold[dim].values():
        ok = np.isfinite(v)                   # masked frames carry no label
        if ok.any():
            out.append(Trace(np.flatnonzero(ok) / prepared.rate, v[ok], ("gold",)))
    return out
