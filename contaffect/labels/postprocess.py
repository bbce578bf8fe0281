r"""Post-processing of frame-level predictions, chosen on validation data (issue 15).

The AVEC 2016 baseline (Valstar et al., *AVEC 2016: Depression, mood, and
emotion recognition workshop and challenge*, AVEC @ ACM MM 2016, Sec. 4.2)
post-processes continuous predictions "to compensate for scaling and bias
issues in the predictions, but also noise in the data" with the chain of
Trigeorgis et al. (*Adieu features?*, ICASSP 2016), every parameter chosen by
maximising CCC on the development partition. The AVEC 2016 MASC baseline
scripts (``run_baseline.m``, ``predpostproc_train.m``, ``final_unimodal_pred.m``;
copies are kept in the public ``AudioVisualEmotionChallenge/AVEC2018``
repository, which reuses them for its GES sub-challenge) show the details:

- **median filtering** of the predictions, the window searched up to
  ``Nw = 500`` frames at 40 ms, i.e. 20 s;
- **centring** by a bias (gold mean minus prediction mean), then **scaling**
  by a factor (gold std over prediction std), each kept only if it raises the
  development CCC;
- a **time shift** of the predictions *forward* in time by a delay from 0 to
  8 s in steps of 0.4 s (contaffect, whose labels are already lag-shifted,
  tries residual shifts of either sign, -2 to 2 s by 0.2 s), the first frame repeated ("predictions are shifted
  forward in time for the final evaluation (first frame is duplicated)"); the
  baseline never shifts backwards;
- statistics and CCC over the *concatenation* of the development recordings.

What contaffect follows, and where it departs (each departure is the issue's
design or a fix of an artefact, and is said here so a report can cite it):

1. The chain order is fixed: :data:`POSTPROCESS_STEPS` = ``smooth``,
   ``centre``, ``scale``, ``shift``; each step is optional (``steps``).
2. Centring and scaling map the predictions of the set being processed onto
   the *training* labels' mean :math:`\mu_\mathrm{train}` and standard
   deviation :math:`\sigma_\mathrm{train}`, with the prediction statistics
   :math:`\mu(p), \sigma(p)` of that same set (all its frames, concatenated,
   or per recording with ``per_recording``). No label of the processed set is
   used, so :meth:`PostProcessor.transform` can run on a test corpus. AVEC's
   script instead estimates a constant bias and factor from the development
   *labels* and applies those constants to test; in a cross-corpus protocol
   the development corpus' label scale is not the test corpus' one, while the
   training labels' scale is the one the model learnt.
3. Scaling is about the prediction mean,
   :math:`p' = \mu(p) + (p - \mu(p))\,\sigma_\mathrm{train}/\sigma(p)`, so that
   scaling alone does not move the mean (AVEC multiplies about zero).
4. The median filter repeats the edge values beyond the ends (MATLAB's
   ``medfilt1``, used by AVEC, pads with zeros, which pulls the first and last
   half-window towards 0).
5. The search is exhaustive over the product of the grids (smoothing is
   computed once per window, so the product costs about a second on a RECOLA-
   sized validation set) instead of AVEC's greedy dichotomy, and the shift is
   scored on validation exactly as it is applied to test (AVEC optimises the
   delay by shifting the *gold standard* back, then shifts predictions
   forward, and notes that the two differ slightly).

Every statistic is a population one (``ddof = 0``), as in
:func:`contaffect.metrics.ccc`. Nothing here is random; the search is
deterministic, ties going to the simpler setting.

This module imports only numpy at load (scipy and pandas on first use), so a
config that declares a ``[postprocess]`` section stays cheap to validate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from contaffect.errors import ConfigError, ProtocolError, TraceError
from contaffect.metrics import ccc as _ccc
from contaffect.metrics import pearson as _pearson
from contaffect.metrics import trace_scores
from contaffect.options import Bool, Choice, Float, Int, ListOf, option
from contaffect.registry import Registry

#: A gain smaller than this is rounding noise (e.g. CC over the concatenation
#: moved by a global scaling): it never makes a setting better than a simpler one.
EPS = 1e-9

#: The label rate the default grids are stated for (Hz; the paper's and AVEC's 25 Hz).
DEFAULT_RATE = 25.0


# ---------------------------------------------------------------- helpers
def window_frames(window_s: float, rate: float) -> int:
    """Frames of a smoothing window: ``round(window_s * rate)``, made odd by adding one.

    A window of 0 s or of one frame is the identity.
    """
    _check_rate(rate)
    if not (isinstance(window_s, (int, float)) and math.isfinite(window_s) and window_s >= 0):
        raise ConfigError(f"smoothing window must be a finite number of seconds >= 0, "
                          f"got {window_s!r}")
    n = int(round(window_s * rate))
    return max(1, n + (n % 2 == 0))


def shift_frames(shift_s: float, rate: float) -> int:
    """Frames of a time shift: ``round(shift_s * rate)`` (negative: predictions move earlier)."""
    _check_rate(rate)
    if not (isinstance(shift_s, (int, float)) and math.isfinite(shift_s)):
        raise ConfigError(f"time shift must be a finite number of seconds, got {shift_s!r}")
    return int(round(shift_s * rate))


def _check_rate(rate: float) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
            or rate <= 0:
        raise ConfigError(f"rate must be a positive number of frames per second, got {rate!r}")


def _as_1d(values: Any, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise TraceError(f"{what} must be a 1-D array of frames, got shape {a.shape}")
    return a


def _per_set(predictions: Any, fn, *, per_recording: bool):
    """Apply ``fn(arrays, stats_from)`` to one array or to a dict of recordings."""
    if isinstance(predictions, Mapping):
        keys = list(predictions)
        arrays = [_as_1d(predictions[k], f"predictions of recording {k!r}") for k in keys]
        return dict(zip(keys, fn(arrays, per_recording)))
    return fn([_as_1d(predictions, "predictions")], True)[0]


# ---------------------------------------------------------------- smoothers
def _median(p: np.ndarray, n: int, polyorder: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(p, size=n, mode="nearest")


def _savgol(p: np.ndarray, n: int, polyorder: int) -> np.ndarray:
    if n <= polyorder:          # a polynomial of degree >= n - 1 fits n points exactly
        return p.copy()
    from scipy.signal import savgol_filter

    return savgol_filter(p, n, polyorder, mode="interp")


#: Smoothing filters (:func:`smooth`): name -> ``f(p, n_frames, polyorder)``.
SMOOTHERS = Registry("smoother")
SMOOTHERS.add("median", _median,
              "running median over an odd window, edge values repeated (AVEC 2016 baseline)")
SMOOTHERS.add("savgol", _savgol,
              "Savitzky-Golay: least-squares polynomial of degree `polyorder` over an odd "
              "window (Savitzky and Golay 1964)")


# ---------------------------------------------------------------- the steps
def smooth(predictions, rate: float, window_s: float, smoother: str = "median", *,
           polyorder: int = 2):
    r"""Smooth each recording with a window of ``window_s`` seconds.

    ``median``: :math:`p'_t = \mathrm{median}(p_{t-h}, \dots, p_{t+h})` with
    :math:`2h + 1` = :func:`window_frames` and the first / last value repeated
    beyond the ends. ``savgol``: :math:`p'_t` is the value at :math:`t` of the
    least-squares polynomial of degree ``polyorder`` through the window
    (Savitzky and Golay, *Analytical Chemistry* 36(8), 1964); near the ends the
    polynomial fitted to the first / last window is evaluated (scipy's
    ``mode="interp"``).

    A window of one frame (or 0 s) is the identity; a window longer than a
    recording is cut to the longest odd window that fits it.

    Parameters
    ----------
    predictions
        One recording's ``(n,)`` predictions, or a dict recording -> array.
    rate
        Frames per second.
    window_s
        Window in seconds (>= 0).
    smoother
        A name of :data:`SMOOTHERS`.
    polyorder
        Polynomial degree of ``savgol``.
    """
    n_win = window_frames(window_s, rate)
    fn = SMOOTHERS.get(smoother)
    if isinstance(polyorder, bool) or not isinstance(polyorder, int) or polyorder < 0:
        raise ConfigError(f"polyorder must be an integer >= 0, got {polyorder!r}")

    def one(p: np.ndarray) -> np.ndarray:
        n = min(n_win, p.size - (p.size % 2 == 0)) if p.size else 1
        return p.copy() if n <= 1 else np.asarray(fn(p, n, polyorder), dtype=np.float64)

    return _per_set(predictions, lambda arrays, _: [one(p) for p in arrays], per_recording=True)


def centre(predictions, train_mean: float, *, per_recording: bool = False):
    r"""Centre on the training labels' mean: :math:`p' = p - \mu(p) + \mu_\mathrm{train}`.

    :math:`\mu(p)` is the mean of the predictions being processed: of one
    array, or of all recordings of a dict concatenated (``per_recording=False``,
    as AVEC 2016) or of each recording (``per_recording=True``). No label of
    the processed set is read.
    """
    mu_t = _finite(train_mean, "train_mean")

    def run(arrays, per_rec):
        if per_rec:
            return [p - p.mean() + mu_t if p.size else p.copy() for p in arrays]
        mu = _pooled_mean(arrays)
        return [p - mu + mu_t for p in arrays]

    return _per_set(predictions, run, per_recording=per_recording)


def scale(predictions, train_std: float, *, per_recording: bool = False):
    r"""Scale to the training labels' spread.

    :math:`p' = \mu(p) + (p - \mu(p))\,\sigma_\mathrm{train}/\sigma(p)`.

    :math:`\mu(p), \sigma(p)` are the mean and (population) standard deviation
    of the predictions being processed, over the whole set or per recording
    (see :func:`centre`). Constant predictions (:math:`\sigma(p) = 0`) cannot
    be scaled and are returned unchanged.
    """
    sd_t = _finite(train_std, "train_std")
    if sd_t <= 0:
        raise ConfigError(f"train_std must be > 0, got {train_std!r}")

    def one(p, mu, sd):
        return p.copy() if not sd > 0 else mu + (p - mu) * (sd_t / sd)

    def run(arrays, per_rec):
        if per_rec:
            return [one(p, p.mean(), p.std()) if p.size else p.copy() for p in arrays]
        mu = _pooled_mean(arrays)
        n = sum(p.size for p in arrays)
        sd = math.sqrt(sum(float(((p - mu) ** 2).sum()) for p in arrays) / n) if n else 0.0
        return [one(p, mu, sd) for p in arrays]

    return _per_set(predictions, run, per_recording=per_recording)


def shift(predictions, rate: float, shift_s: float):
    r"""Shift the predictions in time: :math:`p'(t) = p(t - d)`.

    :math:`d` = :func:`shift_frames` frames. A delay (:math:`d > 0`) repeats
    the first value over the first :math:`d` frames (AVEC 2016's "first frame
    is duplicated"); an advance (:math:`d < 0`) repeats the last value over
    the last :math:`|d|` frames; the length is kept. AVEC only delays,
    because its labels are not lag-shifted; contaffect's are already moved by
    the configured lag, so the residual delay this step matches may have
    either sign. A shift of a whole recording or more gives a constant trace.
    """
    d = shift_frames(shift_s, rate)

    def one(p):
        if d == 0 or p.size == 0:
            return p.copy()
        k = min(abs(d), p.size)
        if d > 0:
            return np.concatenate([np.full(k, p[0]), p[:p.size - k]])
        return np.concatenate([p[k:], np.full(k, p[-1])])

    return _per_set(predictions, lambda arrays, _: [one(p) for p in arrays], per_recording=True)


def _pooled_mean(arrays) -> float:
    n = sum(p.size for p in arrays)
    return float(sum(float(p.sum()) for p in arrays) / n) if n else 0.0


def _finite(value, name: str) -> float:
    number = (int, float, np.integer, np.floating)
    if value is None or isinstance(value, bool) or not isinstance(value, number) \
            or not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be a finite number (the training labels' statistic), "
                          f"got {value!r}")
    return float(value)


#: The post-processing steps, in their fixed chain order.
POSTPROCESS_STEPS = Registry("post-processing step")
POSTPROCESS_STEPS.add("smooth", smooth, "median or Savitzky-Golay filter, window chosen on "
                                        "validation (`windows_s`)")
POSTPROCESS_STEPS.add("centre", centre, "move the predictions' mean to the training labels' mean")
POSTPROCESS_STEPS.add("scale", scale, "stretch the predictions' spread to the training labels' "
                                      "standard deviation")
POSTPROCESS_STEPS.add("shift", shift, "delay the predictions by a residual annotator lag chosen "
                                      "on validation (`shifts_s`)")

#: The measure maximised on validation.
POSTPROCESS_METRICS = Registry("post-processing measure")
POSTPROCESS_METRICS.add("ccc", _ccc, "Lin's concordance correlation coefficient (AVEC's measure)")
POSTPROCESS_METRICS.add("cc", _pearson, "Pearson's correlation (the paper's measure; blind to "
                                        "centring and scaling over the set)")

#: How recordings are pooled when scoring.
POOLINGS = Registry("pooling")
POOLINGS.add("concat", doc="one score over all recordings concatenated (AVEC 2016 baseline code)")
POOLINGS.add("mean_rec", doc="mean of the per-recording scores (AVEC 2018 GES)")


# ---------------------------------------------------------------- scoring
def _pairs(predictions: Mapping, gold: Mapping, *, who: str = "") -> tuple[list, list, list]:
    """Checked (keys, prediction arrays, gold arrays); one-line errors for bad input."""
    where = f"{who}: " if who else ""
    if not isinstance(predictions, Mapping) or not isinstance(gold, Mapping):
        raise TraceError(f"{where}predictions and gold must be dicts recording -> array")
    if not predictions:
        raise TraceError(f"{where}no recordings: the predictions dict is empty")
    missing = [k for k in predictions if k not in gold]
    extra = [k for k in gold if k not in predictions]
    if missing or extra:
        raise TraceError(f"{where}predictions and gold hold different recordings "
                         f"(no gold for {missing[:3]}, no predictions for {extra[:3]})")
    keys = list(predictions)
    ps, gs = [], []
    for k in keys:
        p = _as_1d(predictions[k], f"{where}predictions of recording {k!r}")
        g = _as_1d(gold[k], f"{where}gold of recording {k!r}")
        if p.size != g.size:
            raise TraceError(f"{where}recording {k!r} has {p.size} predicted frames but "
                             f"{g.size} gold frames; align them on one grid first")
        _check_finite(p, k, where)
        ps.append(p)
        gs.append(g)
    return keys, ps, gs


def _check_finite(p: np.ndarray, key, where: str = "") -> None:
    bad = int(np.count_nonzero(~np.isfinite(p)))
    if bad:
        raise TraceError(f"{where}predictions of recording {key!r} hold {bad} NaN or infinite "
                         "values; only gold frames may be NaN (unlabelled)")


def score_set(predictions: Mapping, gold: Mapping) -> dict[str, float]:
    r"""CC and CCC of a set of recordings, both conventions; NaN gold frames are left out.

    ``cc_concat`` / ``ccc_concat``: one coefficient over all labelled frames of
    all recordings concatenated (the AVEC 2016 baseline's development score);
    ``cc_mean_rec`` / ``ccc_mean_rec``: the mean over recordings of each
    recording's coefficient (AVEC 2018 GES), recordings with fewer than two
    labelled frames or an undefined coefficient (constant trace) left out.
    NaN when nothing is left.
    """
    keys, ps, gs = _pairs(predictions, gold, who="score_set")
    s = trace_scores(dict(zip(keys, gs)), dict(zip(keys, ps)))     # one implementation
    return dict(cc_concat=s["cc"], ccc_concat=s["ccc"], cc_mean_rec=s["cc_mean_rec"],
                ccc_mean_rec=s["ccc_mean_rec"])


# ---------------------------------------------------------------- config
#: Default smoothing windows (s): about x1.6 apart, from 3 frames at 25 Hz (the
#: smallest median window that changes a trace) to 20 s (AVEC 2016's largest,
#: 500 frames of 40 ms).
DEFAULT_WINDOWS_S = (0.12, 0.2, 0.32, 0.52, 0.8, 1.2, 2.0, 3.2, 5.2, 8.0, 12.0, 20.0)
#: Default shifts (s): -2 to 2 s in steps of 0.2 s (0 = off is always tried). AVEC 2016
#: tries delays of 0.4 to 8 s because its labels are not lag-shifted; contaffect's are
#: shifted by the corpus' lag (2 s by default, raters lag 1-4 s: Nicolaou et al. 2011),
#: so what is left to match is a residual of either sign, within about 2 s.
DEFAULT_SHIFTS_S = tuple(round(0.2 * k, 1) for k in range(-10, 11) if k)


@dataclass(frozen=True)
class PostProcessConfig:
    """Post-processing of frame predictions (the ``[postprocess]`` section), chosen on validation.

    The AVEC 2016 chain (smooth, centre, scale, shift); see
    :mod:`contaffect.labels.postprocess` for what is followed and where it departs.
    """

    steps: tuple = option(tuple(POSTPROCESS_STEPS.names()),
                          "Steps that may be used, in chain order (smooth, centre, scale, shift); "
                          "each is kept only if it improves the validation score; [] turns "
                          "post-processing off.",
                          ListOf(Choice(POSTPROCESS_STEPS), unique=True))
    smoother: str = option("median", "Smoothing filter (AVEC 2016: median).", Choice(SMOOTHERS))
    polyorder: int = option(2, "Polynomial degree of the Savitzky-Golay smoother.",
                            Int(min=0, max=5))
    windows_s: tuple = option(DEFAULT_WINDOWS_S,
                              "Smoothing windows tried, in seconds (odd frame counts; AVEC 2016 "
                              "searches up to 20 s); no smoothing is always tried too.",
                              ListOf(Float(min=0.0, min_open=True, max=60.0), unique=True))
    shifts_s: tuple = option(DEFAULT_SHIFTS_S,
                             "Shifts of the predictions tried, in seconds (positive: delayed; "
                             "AVEC 2016, whose labels are not lag-shifted: 0.4 to 8 s); 0 is "
                             "always tried too.",
                             ListOf(Float(min=-20.0, max=20.0), unique=True))
    metric: str = option("ccc", "Measure maximised on validation (AVEC: CCC).",
                         Choice(POSTPROCESS_METRICS))
    pooling: str = option("concat", "How validation recordings are pooled for that measure "
                                    "(AVEC 2016: concatenated).", Choice(POOLINGS))
    per_recording: bool = option(False, "Centring / scaling statistics of the predictions per "
                                        "recording instead of over the whole set (AVEC 2016: "
                                        "over the set).", Bool())
    min_gain: float = option(0.0, "A step (or a larger window or shift) must raise the validation "
                                  "score by more than this to be preferred to the simpler "
                                  "setting.", Float(min=0.0, max=1.0))

    def validate(self) -> None:
        """Cross-field checks (one-line :class:`ConfigError`)."""
        order = [s for s in POSTPROCESS_STEPS.names() if s in self.steps]
        if list(self.steps) != order:
            raise ConfigError(f"steps run in the fixed order smooth, centre, scale, shift; "
                              f"write {order}")
        if "smooth" in self.steps and not self.windows_s:
            raise ConfigError("windows_s is empty but the smooth step is on; give windows or "
                              "drop 'smooth' from steps")
        if "shift" in self.steps and not self.shifts_s:
            raise ConfigError("shifts_s is empty but the shift step is on; give shifts or drop "
                              "'shift' from steps")

    @property
    def chain(self) -> tuple[str, ...]:
        """The configured steps in chain order."""
        return tuple(s for s in POSTPROCESS_STEPS.names() if s in self.steps)


# ---------------------------------------------------------------- the estimator
@dataclass(frozen=True)
class Setting:
    """One point of the search: a window (0: no smoothing), centring, scaling, a shift (0: none)."""

    window_s: float = 0.0
    centre: bool = False
    scale: bool = False
    shift_s: float = 0.0

    def on(self) -> tuple[str, ...]:
        """The steps this setting uses, in chain order."""
        flags = (self.window_s > 0, self.centre, self.scale, self.shift_s != 0)
        return tuple(s for s, f in zip(POSTPROCESS_STEPS.names(), flags) if f)

    def simplicity(self) -> tuple:
        """Sort key, simplest first: fewer steps, then smaller window, then smaller shift."""
        return (len(self.on()), self.window_s, abs(self.shift_s), self.shift_s < 0, self.centre,
                self.scale)

    def without(self, step: str) -> "Setting":
        """The same setting with one step off."""
        off = {"smooth": {"window_s": 0.0}, "centre": {"centre": False},
               "scale": {"scale": False}, "shift": {"shift_s": 0.0}}[step]
        return dataclasses.replace(self, **off)


def apply_chain(predictions, rate: float, setting: Setting, *, train_mean: float | None = None,
                train_std: float | None = None, smoother: str = "median", polyorder: int = 2,
                per_recording: bool = False):
    """Run the chain smooth -> centre -> scale -> shift with one :class:`Setting` (no labels)."""
    out = predictions
    if setting.window_s > 0:
        out = smooth(out, rate, setting.window_s, smoother, polyorder=polyorder)
    if setting.centre:
        out = centre(out, train_mean, per_recording=per_recording)
    if setting.scale:
        out = scale(out, train_std, per_recording=per_recording)
    if setting.shift_s != 0:
        out = shift(out, rate, setting.shift_s)
    if out is predictions:                          # nothing on: still hand back copies
        out = ({k: _as_1d(v, f"predictions of recording {k!r}").copy()
                for k, v in predictions.items()} if isinstance(predictions, Mapping)
               else _as_1d(predictions, "predictions").copy())
    return out


class PostProcessor:
    r"""The post-processing chain, its parameters chosen on validation predictions.

    :meth:`fit` scores every setting of the product
    :math:`(\{0\} \cup W) \times \{\text{off}, \text{on}\}^2 \times (\{0\} \cup D)`
    (windows :math:`W` = ``windows_s``, shifts :math:`D` = ``shifts_s``; only the
    configured ``steps`` vary) on the validation corpus with ``metric`` and
    ``pooling``, NaN gold frames left out. It keeps the best setting; among
    settings within ``min_gain`` (plus 1e-9 of rounding) of the best it takes
    the simplest (fewest steps, then smallest window, then smallest shift).
    So every step kept raises the validation score over the same setting
    without it, and a step that does not help is off. Deterministic, no
    randomness.

    The product is cheap because smoothing, the only costly step, is computed
    once per window; a greedy search in chain order would choose the window
    before the shift, although a wide window also blurs a misalignment.

    Parameters
    ----------
    config
        A :class:`PostProcessConfig` (defaults when ``None``).
    rate
        Frames per second of the predictions (the label rate).

    Attributes
    ----------
    window_s_, centre_, scale_, shift_s_
        The chosen setting (``window_s_ = 0`` / ``shift_s_ = 0``: step off).
    kept_
        Step -> whether it is used.
    gain_
        Step -> validation gain: for a kept step, the chosen score minus that
        of the same setting without it (> 0); for a searched step left off,
        the best change it could bring to the chosen setting (<= ``min_gain``);
        NaN for steps not in ``config.steps``.
    score_before_, score_after_
        Validation score without post-processing and with the chosen setting.
    grid_
        ``pandas.DataFrame``: one row per setting tried (``window_s``,
        ``window_frames``, ``centre``, ``scale``, ``shift_s``, ``shift_frames``,
        ``n_steps``, ``score``, ``chosen``).
    train_mean_, train_std_
        The training label statistics used by :meth:`transform`.
    """

    def __init__(self, config: PostProcessConfig | None = None, rate: float = DEFAULT_RATE) -> None:
        self.config = config
        self.rate = rate

    # sklearn-style parameters (no BaseEstimator: scikit-learn is not imported here)
    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters."""
        return {"config": self.config, "rate": self.rate}

    def set_params(self, **params) -> "PostProcessor":
        """Set constructor parameters; unknown names are refused."""
        for k, v in params.items():
            if k not in ("config", "rate"):
                raise ConfigError(f"PostProcessor has no parameter {k!r}; choose from config, rate")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"PostProcessor(config={self.config!r}, rate={self.rate!r})"

    @property
    def _cfg(self) -> PostProcessConfig:
        cfg = self.config if self.config is not None else PostProcessConfig()
        if not isinstance(cfg, PostProcessConfig):
            raise ConfigError(f"config must be a PostProcessConfig, got {type(cfg).__name__}")
        cfg.validate()
        return cfg

    def fit(self, predictions: Mapping, gold: Mapping, train_mean: float | None = None,
            train_std: float | None = None) -> "PostProcessor":
        """Choose the setting on the **validation** corpus.

        Parameters
        ----------
        predictions, gold
            Dicts recording -> ``(n,)`` arrays of the validation corpus; gold
            NaN marks unlabelled frames (not scored). Nothing else is read.
        train_mean, train_std
            Mean and standard deviation of the training labels (needed only
            when ``centre`` / ``scale`` are among the steps).
        """
        cfg = self._cfg
        _check_rate(self.rate)
        keys, ps, gs = _pairs(predictions, gold, who="PostProcessor.fit")
        masks = [np.isfinite(g) for g in gs]
        if sum(int(m.sum()) for m in masks) < 2:
            raise TraceError("PostProcessor.fit: the validation gold has fewer than 2 labelled "
                             "frames; nothing to choose the post-processing on")
        chain = cfg.chain
        mu = _finite(train_mean, "train_mean") if "centre" in chain else None
        sd = _finite(train_std, "train_std") if "scale" in chain else None
        if sd is not None and sd <= 0:
            raise ConfigError(f"train_std must be > 0, got {train_std!r}")
        windows = [0.0] + (sorted({float(w) for w in cfg.windows_s}) if "smooth" in chain else [])
        shifts = [0.0] + (sorted({float(d) for d in cfg.shifts_s if d != 0}, key=abs)
                          if "shift" in chain else [])
        centres = [False, True] if "centre" in chain else [False]
        scales = [False, True] if "scale" in chain else [False]
        POSTPROCESS_METRICS.entry(cfg.metric)
        POOLINGS.entry(cfg.pooling)

        search = _Search(ps, gs, masks, cfg.metric, cfg.pooling)
        gathers = {d: search.gather(shift_frames(d, self.rate)) for d in shifts}
        rows, scores = [], {}
        for w in windows:
            base = ps if w == 0 else _list(smooth(_dict(ps), self.rate, w, cfg.smoother,
                                                  polyorder=cfg.polyorder))
            flat = np.concatenate(base)
            maps = {(c, s): search.affine(base, flat, c, s, mu, sd, cfg.per_recording)
                    for c in centres for s in scales}
            for d in shifts:
                x = flat[gathers[d]]
                for (c, s), (a, b) in maps.items():
                    st = Setting(w, c, s, d)
                    val = search.score(x if (c, s) == (False, False) else a + b * x)
                    scores[st] = val if math.isfinite(val) else -math.inf
                    rows.append({"window_s": w, "window_frames": window_frames(w, self.rate)
                                 if w > 0 else 1, "centre": c, "scale": s, "shift_s": d,
                                 "shift_frames": shift_frames(d, self.rate),
                                 "n_steps": len(st.on()), "score": val})
        best = max(scores.values())
        tol = cfg.min_gain + EPS
        near = [st for st, v in scores.items() if v >= best - tol] if math.isfinite(best) \
            else list(scores)
        chosen = min(near, key=Setting.simplicity)

        import pandas as pd

        grid = pd.DataFrame(rows).sort_values(["window_s", "centre", "scale", "shift_s"],
                                              kind="mergesort", ignore_index=True)
        grid["chosen"] = [Setting(r.window_s, bool(r.centre), bool(r.scale), r.shift_s) == chosen
                          for r in grid.itertuples()]
        self.grid_ = grid
        self.setting_ = chosen
        self.window_s_, self.centre_, self.scale_, self.shift_s_ = (
            chosen.window_s, chosen.centre, chosen.scale, chosen.shift_s)
        self.score_before_ = _nan(scores[Setting()])
        self.score_after_ = _nan(scores[chosen])
        self.kept_ = {step: step in chosen.on() for step in POSTPROCESS_STEPS.names()}
        self.gain_ = {}
        for step in POSTPROCESS_STEPS.names():
            if step not in chain:
                self.gain_[step] = float("nan")
            elif self.kept_[step]:
                self.gain_[step] = _nan(scores[chosen] - scores[chosen.without(step)])
            else:
                alts = [v for st, v in scores.items()
                        if step in st.on() and st.without(step) == chosen]
                self.gain_[step] = _nan(max(alts) - scores[chosen]) if alts else float("nan")
        self.train_mean_, self.train_std_ = mu, sd
        self.recordings_ = tuple(keys)
        return self

    def transform(self, predictions: Mapping) -> dict:
        """Apply the chosen chain to any corpus' predictions (dict recording -> array); no labels.

        Centring / scaling statistics of the predictions come from the set
        passed here (or from each recording with ``per_recording``), so pass a
        whole corpus at once.
        """
        if not hasattr(self, "setting_"):
            raise ProtocolError("PostProcessor is not fitted: call fit() on the validation "
                                "predictions and gold first")
        if not isinstance(predictions, Mapping) or not predictions:
            raise TraceError("PostProcessor.transform: predictions must be a non-empty dict "
                             "recording -> array")
        for k, v in predictions.items():
            _check_finite(_as_1d(v, f"predictions of recording {k!r}"), k,
                          "PostProcessor.transform: ")
        cfg = self._cfg
        return apply_chain(predictions, self.rate, self.setting_, train_mean=self.train_mean_,
                           train_std=self.train_std_, smoother=cfg.smoother,
                           polyorder=cfg.polyorder, per_recording=cfg.per_recording)

    def fit_transform(self, predictions: Mapping, gold: Mapping, train_mean=None,
                      train_std=None) -> dict:
        """:meth:`fit` on validation, then :meth:`transform` of the same predictions."""
        return self.fit(predictions, gold, train_mean, train_std).transform(predictions)


class _Search:
    r"""The validation scores of many settings, fast.

    Centring and scaling are affine maps of the smoothed predictions,
    :math:`p' = a_r + b_r\,p` (one :math:`a, b` for the set, or one per
    recording), and a shift only re-indexes frames; so per window the
    labelled frames are gathered once per shift and every (centre, scale)
    combination is an affine map of that vector, scored from moments. The
    numbers equal :func:`contaffect.metrics.ccc` / :func:`~contaffect.metrics.pearson`
    on the processed predictions up to rounding (a test checks this).
    """

    def __init__(self, ps, gs, masks, metric: str, pooling: str) -> None:
        self.metric, self.pooling = metric, pooling
        self.lengths = np.array([p.size for p in ps])
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.masks = masks
        self.counts = np.array([int(m.sum()) for m in masks])
        y = np.concatenate([g[m] for g, m in zip(gs, masks)])
        self.n = y.size
        self.my = float(y.mean())
        self.dy = y - self.my
        self.vy = float((self.dy * self.dy).sum()) / self.n
        keep = self.counts >= 2                     # recordings a per-recording score exists for
        self.sel = np.repeat(keep, self.counts)
        self.cnt2 = self.counts[keep]
        self.starts = np.concatenate([[0], np.cumsum(self.cnt2)[:-1]]).astype(np.int64)
        if self.cnt2.size:
            y2 = y[self.sel]
            self.my_r = np.add.reduceat(y2, self.starts) / self.cnt2
            self.dy_r = y2 - np.repeat(self.my_r, self.cnt2)
            self.vy_r = np.add.reduceat(self.dy_r ** 2, self.starts) / self.cnt2

    def gather(self, d: int) -> np.ndarray:
        """Indices into the concatenated predictions of the labelled frames after a shift of d."""
        return np.concatenate([(o + np.clip(np.arange(n) - d, 0, max(n - 1, 0)))[m]
                               for o, n, m in zip(self.offsets, self.lengths, self.masks)])

    def affine(self, base, flat, c: bool, s: bool, mu, sd, per_recording: bool):
        """(a, b) of centring / scaling, scalars or per labelled frame."""
        if not (c or s):
            return 0.0, 1.0
        if per_recording:
            m = np.array([p.mean() if p.size else 0.0 for p in base])
            v = np.array([p.std() if p.size else 0.0 for p in base])
        else:
            m, v = np.array([flat.mean()]), np.array([flat.std()])
        k = np.ones_like(v)
        if s:
            np.divide(sd, v, out=k, where=v > 0)
        a = (mu - m * k) if c else m * (1 - k)      # centre+scale: mu_t + (p - mu) k
        if per_recording:
            return np.repeat(a, self.counts), np.repeat(k, self.counts)
        return float(a[0]), float(k[0])

    def score(self, x: np.ndarray) -> float:
        """The configured measure of processed predictions ``x`` at the labelled frames."""
        if self.pooling == "concat":
            mx = float(x.mean())
            dx = x - mx
            vx = float((dx * dx).sum()) / self.n
            cov = float((dx * self.dy).sum()) / self.n
            return _coef(self.metric, cov, vx, self.vy, mx - self.my)
        if not self.cnt2.size:
            return float("nan")
        x2 = x[self.sel]
        mx = np.add.reduceat(x2, self.starts) / self.cnt2
        dx = x2 - np.repeat(mx, self.cnt2)
        vx = np.add.reduceat(dx ** 2, self.starts) / self.cnt2
        cov = np.add.reduceat(dx * self.dy_r, self.starts) / self.cnt2
        vals = [_coef(self.metric, *t) for t in zip(cov, vx, self.vy_r, mx - self.my_r)]
        vals = [v for v in vals if math.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")


def _coef(metric: str, cov: float, vx: float, vy: float, dmean: float) -> float:
    if metric == "cc":
        den = math.sqrt(vx * vy)
        return cov / den if den > 0 else float("nan")
    den = vx + vy + dmean * dmean
    return 2 * cov / den if den > 0 else float("nan")


def _dict(arrays: list) -> dict:
    return dict(enumerate(arrays))


def _list(d: dict) -> list:
    return [d[i] for i in range(len(d))]


def _nan(x: float) -> float:
    return float(x) if math.isfinite(x) else float("nan")


# ---------------------------------------------------------------- ablation
def ablation(predictions_val: Mapping, gold_val: Mapping, predictions_test: Mapping,
             gold_test: Mapping, train_mean: float | None, train_std: float | None,
             config: PostProcessConfig | None = None, rate: float = DEFAULT_RATE):
    """Gain per step: for each prefix of the chain, fit on validation, score on test.

    Rows: no post-processing, then the configured steps added one at a time
    in chain order (``none``, ``smooth``, ``smooth+centre``, ...). Each row's
    :class:`PostProcessor` is fit on the validation corpus only; the test
    predictions are then transformed, and the test labels are read only
    after that, to score (``cc_concat``, ``ccc_concat``, ``cc_mean_rec``,
    ``ccc_mean_rec``; NaN gold frames excluded). ``gain`` is the change of the
    configured measure on test from the previous row. Changing the test
    labels changes only the test columns.

    Returns
    -------
    pandas.DataFrame
        ``steps``, ``window_s``, ``centre``, ``scale``, ``shift_s``,
        ``val_score``, the four test measures, ``gain``.
    """
    import pandas as pd

    cfg = config if config is not None else PostProcessConfig()
    cfg.validate()
    chain = cfg.chain
    _pairs(predictions_test, gold_test, who="ablation (test)")   # shapes only, before any fit
    rows = []
    for i in range(len(chain) + 1):
        prefix = chain[:i]
        pp = PostProcessor(dataclasses.replace(cfg, steps=prefix), rate)
        pp.fit(predictions_val, gold_val, train_mean, train_std)
        out = pp.transform(predictions_test)
        test = score_set(out, gold_test)                          # test labels: read here only
        rows.append({"steps": "+".join(prefix) or "none", "window_s": pp.window_s_,
                     "centre": pp.centre_, "scale": pp.scale_, "shift_s": pp.shift_s_,
                     "val_score": pp.score_after_, **test})
    table = pd.DataFrame(rows)
    col = f"{cfg.metric}_{cfg.pooling}"
    table["gain"] = table[col].diff()
    return table


__all__ = [
    "DEFAULT_SHIFTS_S", "DEFAULT_WINDOWS_S", "POOLINGS", "POSTPROCESS_METRICS",
    "POSTPROCESS_STEPS", "SMOOTHERS", "PostProcessConfig", "PostProcessor", "Setting",
    "ablation", "apply_chain", "centre", "scale", "score_set", "shift", "shift_frames",
    "smooth", "window_frames",
]
