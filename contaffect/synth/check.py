"""Is a dimensional corpus learnable from its audio? A linear leave-one-speaker-out check.

Ridge regression from ComParE LLDs (aligned to 25 Hz, normalised at a given
level, averaged over a 2 s moving window) to the lag-corrected gold standard,
trained on all speakers but one and tested on that one. Used to show that
the synthetic presets carry affect in their audio, below the ceiling, and
that speaker z-normalisation helps across speakers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d
from sklearn.linear_model import Ridge

from contaffect.corpus.model import Corpus
from contaffect.features import align_to_grid, load_corpus_features, normalise
from contaffect.features.store import FeatureStore
from contaffect.labels import LabelConfig, process_trace


def _cc(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def loso_ridge(
    corpus: Corpus,
    store: FeatureStore | str | Path,
    *,
    lag_s: dict[str, float] | float = 2.0,
    levels: tuple[str, ...] = ("speaker", "none"),
    smooth_s: float = 2.0,
    alpha: float = 100.0,
) -> pd.DataFrame:
    """Leave-one-speaker-out ridge CC per normalisation level and dimension.

    Parameters
    ----------
    corpus
        A dimensional corpus whose LLDs are in ``store``.
    store
        Feature store with ``compare2016_lld`` for the corpus.
    lag_s
        Annotator lag per dimension (or one value) used to shift the gold standard.
    levels
        Normalisation levels to compare.
    smooth_s
        Moving-average window over the 25 Hz features.
    alpha
        Ridge penalty.

    Returns
    -------
    pandas.DataFrame
        Columns ``normalisation``, ``dimension``, ``cc`` (pooled over held-out
        speakers).
    """
    aligned = {k: align_to_grid(v, 25.0).values for k, v in
               load_corpus_features(corpus, store).items()}
    speakers = {r.id: r.speaker for r in corpus}
    cfg = LabelConfig(lag_s=lag_s)
    width = max(1, int(round(smooth_s * 25)))
    rows = []
    for level in levels:
        feats = normalise(aligned, speakers, level)
        for dim in corpus.dimensions:
            xs, ys = {}, {}
            for rec in corpus:
                gold = process_trace(rec.traces[dim], cfg, dim).values[:, 0]
                n = min(len(gold), len(feats[rec.id]))
                xs[rec.id] = uniform_filter1d(feats[rec.id][:n], width, axis=0)
                ys[rec.id] = gold[:n]
            preds, golds = [], []
            for spk in corpus.speakers:
                train = [r.id for r in corpus if r.speaker != spk]
                test = [r.id for r in corpus if r.speaker == spk]
                with warnings.catch_warnings():   # raw (level "none") features are ill-scaled
                    warnings.simplefilter("ignore")
                    model = Ridge(alpha=alpha).fit(np.vstack([xs[k] for k in train]),
                                                   np.concatenate([ys[k] for k in train]))
                preds += [model.predict(xs[k]) for k in test]
                golds += [ys[k] for k in test]
            rows.append(dict(normalisation=level, dimension=dim,
                             cc=_cc(np.concatenate(preds), np.concatenate(golds))))
    return pd.DataFrame(rows)
