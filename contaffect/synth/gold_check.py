r"""Which rater fusion is closest to the truth? Gold standards against the latent truth.

A real corpus cannot say whether DBA or RAAW gives a *better* gold standard than
the mean or EWE, only a different one. A synthetic corpus can: the generator
knows the latent affect that the raters followed (``synth/truth/<id>.npz``).
:func:`gold_vs_truth` fuses every recording's raters with each method, exactly
as an experiment would (:func:`~contaffect.labels.processing.process_trace`:
resample to 25 Hz -> fuse -> shift by the lag), with the lag set to the panel's
true mean lag, and scores the gold standard :math:`g` against the truth
:math:`x` at the gold standard's times with Pearson's CC,

.. math::

    \mathrm{CC}_{\mathrm{rec}} = \frac{1}{R} \sum_{r=1}^R \rho(g_r, x_r),
    \qquad
    \mathrm{CC}_{\mathrm{concat}} = \rho\bigl([g_1, \dots, g_R], [x_1, \dots, x_R]\bigr),

the per-recording mean and the coefficient on the concatenation (the two
conventions of :func:`contaffect.metrics.trace_scores`). With ``mean`` fusion
this is the generator's ceiling (``report.json``). Nothing here is fit: the
lag is the generator's, not estimated, and the band and iterations are the
:class:`~contaffect.labels.processing.LabelConfig` defaults unless given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from contaffect.corpus import load_corpus
from contaffect.errors import ConfigError
from contaffect.labels.processing import DEFAULT_DBA_ITERATIONS, DEFAULT_DTW_BAND_S, \
    LabelConfig, process_trace
from contaffect.metrics import pearson
from contaffect.synth.generate import SIDE_DIR, generate, is_current, load_truth
from contaffect.synth.presets import get_preset

DIMS = ("arousal", "valence")
METHODS = ("mean", "ewe", "dba", "raaw")


def _corpus_folder(preset, folder: Path, scale: float, seed: int, progress: bool) -> None:
    """Generate the preset into ``folder``, or reuse it if it already holds this corpus."""
    report_path = folder / SIDE_DIR / "report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        if (is_current(report, preset) and report.get("scale") == scale
                and report.get("seed") == seed):
            return
    generate(preset, folder, scale=scale, seed=seed, progress=progress)


def gold_vs_truth(
    preset,
    folder: str | Path,
    *,
    scale: float,
    seed: int,
    methods: Sequence[str] = METHODS,
    rate: float = 25.0,
    dtw_band_s: float = DEFAULT_DTW_BAND_S,
    dba_iterations: int = DEFAULT_DBA_ITERATIONS,
    progress: bool = False,
):
    """CC of each fusion's gold standard with the latent truth, per dimension.

    Parameters
    ----------
    preset
        A dimensional preset with a rater panel (``recola_like``,
        ``semaine_like``, ``creativeit_like``) or its name.
    folder
        Where the corpus is generated (an empty or missing folder), or a folder
        that already holds it at this ``scale`` and ``seed`` (then reused).
    scale, seed
        Passed to :func:`~contaffect.synth.generate.generate`.
    methods
        Rater fusions to compare (names of ``RATER_FUSION``).
    rate
        Label rate of the gold standards (Hz).
    dtw_band_s, dba_iterations
        For ``dba`` / ``raaw``.
    progress
        Show the generator's progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per (dimension, method): ``preset``, ``dimension``, ``method``,
        ``recordings``, ``cc_mean_rec`` (mean over recordings), ``cc_concat``
        (on the concatenation), ``seconds`` (time spent fusing).
    """
    import pandas as pd

    preset = get_preset(preset) if isinstance(preset, str) else preset
    if getattr(preset, "panel", None) is None:
        raise ConfigError(f"preset {preset.name!r} has no rater panel: no traces to fuse "
                          "(choose recola_like, semaine_like or creativeit_like)")
    folder = Path(folder)
    _corpus_folder(preset, folder, scale, seed, progress)
    corpus = load_corpus(folder)
    truths = {rec.id: load_truth(folder, rec.id) for rec in corpus}
    lags = dict(zip(DIMS, preset.panel.lag_s))
    rows = []
    for method in methods:
        cfg = LabelConfig(rate=rate, fusion=method, lag_s=lags, dtw_band_s=dtw_band_s,
                          dba_iterations=dba_iterations)
        for d, dim in enumerate(DIMS):
            golds, xs, per = [], [], []
            t0 = time.perf_counter()
            for rec in corpus:
                gold = process_trace(rec.traces[dim], cfg, dim)
                t_truth, *latent = truths[rec.id]
                x = np.interp(gold.times, t_truth, latent[d])
                g = gold.values[:, 0]
                golds.append(g)
                xs.append(x)
                per.append(pearson(x, g))
            rows.append(dict(preset=preset.name, dimension=dim, method=method,
                             recordings=len(per), cc_mean_rec=float(np.mean(per)),
                             cc_concat=pearson(np.concatenate(xs), np.concatenate(golds)),
                             seconds=round(time.perf_counter() - t0, 2)))
    return pd.DataFrame(rows)
