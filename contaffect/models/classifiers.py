"""Utterance-level classifiers by name, with their hyper-parameter grids and a devel sweep.

Every classifier is a scikit-learn pipeline: standardisation fit on the
training partition, optional upsampling of the training set, the estimator.
Grids follow the recipes of the seed papers:

- ``svm``: linear SVM (libsvm's SMO, as Weka's SMO in the ComParE baselines, on a
  Gram matrix computed with BLAS: :class:`~contaffect.models.estimators.GramLinearSVC`),
  complexity on a log scale
  from 1 down to 1e-9 (seed 001 sweeps 1 .. 1e-9);
- ``svm_liblinear``: the same model with liblinear (``LinearSVC``), for tens of
  thousands of utterances; its dual solver is slow at large C on thousands of
  features (2000 passes at most; the sweep records whether it converged);
- ``svm_rbf``: RBF SVM (libsvm on a BLAS kernel matrix,
  :class:`~contaffect.models.estimators.GramRBFSVC`) over an
  exponential C x gamma grid (seed 004 sweeps C and
  gamma exponentially, after Hsu, Chang & Lin's libsvm guide: C = 2^-1 .. 2^7,
  gamma = 2^-15 .. 2^-3 in steps of 2^2, 35 points; the guide's full 2^-5 .. 2^15 x
  2^-15 .. 2^3 grid can be given in ``grids``);
- ``kelm`` / ``wkelm``: kernel ELM, linear kernel, C on a log scale (seed 002);
- ``kpls`` / ``wkpls``: kernel PLS, number of latent components (seed 002);
- ``dbn``: seed 003's deep belief network (:mod:`contaffect.models.dbn`) on
  functionals;
- ``lstm``, ``cnn``, ``cnn_lstm`` (seed 000) and ``resnet``, ``resnet_ra``,
  ``resnet_ra_head`` (seed 001, plain / residual adapters transferred with
  their adapters / head only) take frame sequences (a log-Mel representation),
  not vectors, as do ``ssl_linear``, ``ssl_cnn_attn`` and ``ssl_transformer``
  (seed 004's heads on self-supervised layers: mean pooling + linear layer,
  CNN with self-attention pooling, class-token transformer; each learns a
  weighting of stacked layers): :class:`~contaffect.models.sequence_classifier.SequenceClassifier`.
  Their "grids" hold one point, the training schedule, which early stopping
  on a held-out share of the training speakers completes; a grid can still
  list several values.

A classifier's input is ``vector`` or ``sequence`` (:func:`input_kind`); a
system is a representation x classifier pair whose kinds agree
(:func:`accepts`), so one experiment can list kernel and neural systems side
by side.

The sweep fits on train and scores UAR on devel only; test is never seen.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from contaffect.errors import ConfigError
from contaffect.metrics import uar

if TYPE_CHECKING:
    import pandas as pd

# scikit-learn, pandas and the estimators are imported where they are used, so that the
# registry below can be read (CLI help, config checks) without importing them
_LAZY = {"Upsampled": "estimators", "GramLinearSVC": "estimators", "GramRBFSVC": "estimators"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"contaffect.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _linear_svm(C: float = 1e-3, random_state: int = 0):
    # libsvm on the n x n linear kernel: exact and fast for up to ~10^4 utterances, where
    # liblinear's dual solver took minutes per C on 6373 standardised features; the kernel
    # comes from one BLAS product (GramLinearSVC)
    from contaffect.models.estimators import GramLinearSVC

    return GramLinearSVC(C=C, random_state=random_state)


def _liblinear_svm(C: float = 1e-3, random_state: int = 0):
    # 2000 passes bound the time at large C; the sweep records whether it converged
    from sklearn.svm import LinearSVC

    return LinearSVC(C=C, max_iter=2000, random_state=random_state)


def _rbf_svm(C: float = 1.0, gamma: float | str = "scale", random_state: int = 0):
    from contaffect.models.estimators import GramRBFSVC

    return GramRBFSVC(C=C, gamma=gamma, random_state=random_state)


def _kelm(C: float = 1.0, random_state: int = 0, weighting: str | None = None):
    from contaffect.models.kernel import KernelELM

    return KernelELM(C=C) if weighting is None else KernelELM(C=C, weighting=weighting)


def _kpls(n_components: int = 10, random_state: int = 0, weighting: str | None = None):
    from contaffect.models.kernel import KernelPLS

    return (KernelPLS(n_components=n_components) if weighting is None
            else KernelPLS(n_components=n_components, weighting=weighting))


def _dbn(hidden_units: int = 1000, finetune_epochs: int = 0, random_state: int = 0, **kw):
    from contaffect.models.dbn import DBNClassifier

    if finetune_epochs:
        kw["finetune_epochs"] = finetune_epochs
    h = int(hidden_units)
    return DBNClassifier(hidden=(h, h, 2 * h), random_state=random_state, **kw)


def _sequence(architecture: str, **fixed):
    """A factory of :class:`SequenceClassifier` with a system's fixed settings."""
    def factory(random_state: int = 0, **params):
        from contaffect.models.sequence_classifier import SequenceClassifier

        for k in ("max_epochs", "patience", "batch_size"):
            if k in params:
                params[k] = int(params[k])
        if "lr" in params:
            lr = float(params.pop("lr"))
            params["lr_steps"] = tuple(lr * f for f in (1.0, 0.1, 0.01)[:len(
                fixed.get("lr_steps", (0,)))])
        return SequenceClassifier(architecture, random_state=random_state, **{**fixed, **params})
    factory.input = "sequence"
    factory.target_aware = bool(fixed.get("transfer", "none") != "none")
    return factory


# seed 000: SGD momentum 0.9, lr 0.01, early stopping on held-out speakers, utterances
# padded to 100 frames. Two deviations, measured: the paper stops on the validation
# error rate and weighs classes alike; on small imbalanced corpora that chose networks
# that predict the majority class (3-class valence, CNN: ravdess_like 33.3 % test UAR,
# EMOVO 39.3 %), while class-balanced cross entropy and stopping on validation UAR (the
# metric the paper reports) gave 44.8 and 61.6 % (experiments/neural/departures.py).
_SEED000 = dict(lr_steps=(0.01,), momentum=0.9, early_stopping="uar", class_weight="balanced",
                min_frames=100, max_epochs=20, patience=3, batch_size=32)
# seed 001: class-weighted CE, SGD momentum 0.9, lr 0.1 -> 0.01 -> 0.001 on stalled
# validation UAR, L2 1e-6, 5 s chunks; CPU schedule: width 0.25, patience 2 (paper:
# width 1.0, patience 50)
_SEED001 = dict(lr_steps=(0.1, 0.01, 0.001), momentum=0.9, weight_decay=1e-6,
                early_stopping="uar", class_weight="balanced", crop_s=5.0, min_frames=100,
                max_epochs=30, patience=2, batch_size=32, width=0.25)
# seed 004 (its heads run in SUPERB, Yang et al. 2021). From the paper: the three heads, the
# CNN's width 256 and kernel 5, the transformer's 2 layers and 6 heads (its width 384 is
# contaffect's), 10 % of the training data held out for development. From SUPERB's emotion
# recipe: Adam at lr 1e-4, gradients clipped to norm 1, the checkpoint of the best
# development score kept (it runs 30 000 updates of 32 utterances). CPU schedule,
# contaffect's: at most 30 epochs of batches of 32, patience 3 on validation UAR (the
# hold-out is of speakers), class-balanced cross entropy (as for seed 000, see above), no
# padding to a minimum length (min_frames 1: the heads mask padded frames), frames z-scored
# per column with the training statistics. lr 1e-3 was considered for the short schedule (an
# Adam step moves a weight by about lr, and 30 epochs of a small corpus are a few hundred
# updates); on synthetic SSL-like frames (768 wide, 480 utterances) it was not better: the
# CNN and the transformer reached their best validation UAR within a few epochs at 1e-4, the
# linear head within about 15, so SUPERB's value is kept; `grids` can set `lr`.
_SEED004 = dict(optimizer="adam", lr_steps=(1e-4,), max_grad_norm=1.0, early_stopping="uar",
                class_weight="balanced", validation_fraction=0.1, min_frames=1,
                max_epochs=30, patience=3, batch_size=32)
# the grids list the schedule's keys (what `grids` may set); a grid given in a config
# replaces these lists, and a key it leaves out keeps the fixed setting above
_SEQ_GRID = {"max_epochs": [20], "patience": [3], "batch_size": [32]}
_RES_GRID = {"max_epochs": [30], "patience": [2], "batch_size": [32], "width": [0.25]}
_SSL_GRID = {"max_epochs": [30], "patience": [3], "batch_size": [32], "lr": [1e-4]}

#: name -> (factory, grid); every factory accepts ``random_state``; a factory's
#: ``input`` attribute says what it takes (``vector`` when absent, see :func:`input_kind`)
CLASSIFIERS: dict[str, tuple[Callable[..., Any], dict[str, list]]] = {
    "svm": (_linear_svm, {"C": [10.0 ** -e for e in range(0, 10)]}),
    "svm_liblinear": (_liblinear_svm, {"C": [10.0 ** -e for e in range(0, 10)]}),
    "svm_rbf": (_rbf_svm, {"C": [2.0 ** e for e in range(-1, 8, 2)],
                           "gamma": [2.0 ** e for e in range(-15, -2, 2)]}),
    "kelm": (lambda C=1.0, random_state=0: _kelm(C),
             {"C": [10.0 ** e for e in range(-6, 3)]}),
    "wkelm": (lambda C=1.0, random_state=0: _kelm(C, weighting="W2"),
              {"C": [10.0 ** e for e in range(-6, 3)]}),
    "kpls": (lambda n_components=10, random_state=0: _kpls(n_components),
             {"n_components": [2, 4, 8, 16, 32, 64]}),
    "wkpls": (lambda n_components=10, random_state=0: _kpls(n_components, weighting="W1"),
              {"n_components": [2, 4, 8, 16, 32, 64]}),
    "dbn": (_dbn, {"hidden_units": [1000]}),
    "lstm": (_sequence("lstm", **_SEED000), {**_SEQ_GRID, "lr": [0.01]}),
    "cnn": (_sequence("cnn", **_SEED000), {**_SEQ_GRID, "lr": [0.01]}),
    "cnn_lstm": (_sequence("cnn_lstm", **_SEED000), {**_SEQ_GRID, "lr": [0.01]}),
    "resnet": (_sequence("resnet", **_SEED001), {**_RES_GRID, "lr": [0.1]}),
    "resnet_ra": (_sequence("resnet", adapters=True, transfer="adapters", **_SEED001),
                  {**_RES_GRID, "lr": [0.1]}),
    "resnet_ra_head": (_sequence("resnet", adapters=True, transfer="head", **_SEED001),
                       {**_RES_GRID, "lr": [0.1]}),
    "ssl_linear": (_sequence("ssl_linear", **_SEED004), _SSL_GRID),
    "ssl_cnn_attn": (_sequence("ssl_cnn_attn", **_SEED004), _SSL_GRID),
    "ssl_transformer": (_sequence("ssl_transformer", **_SEED004), _SSL_GRID),
}


def input_kind(name: str) -> str:
    """``vector`` (one row per utterance) or ``sequence`` (frame matrices) for a classifier."""
    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    return getattr(CLASSIFIERS[name][0], "input", "vector")


def target_aware(name: str) -> bool:
    """True if the classifier's ``fit`` takes ``target_domain`` (seed 001's transfer)."""
    return bool(getattr(CLASSIFIERS[name][0], "target_aware", False))


def accepts(classifier: str, representation: str) -> bool:
    """True if ``classifier`` takes what ``representation`` gives (vectors or sequences)."""
    from contaffect.features.representations import REPRESENTATIONS

    kind = "sequence" if REPRESENTATIONS.is_sequence(representation) else "vector"
    return input_kind(classifier) == kind


def systems(representations, classifiers) -> list[tuple[str, str]]:
    """The representation x classifier pairs whose input kinds agree, in config order."""
    return [(r, c) for r in representations for c in classifiers if accepts(c, r)]


#: words a grid may hold besides numbers (the estimator's own settings)
GRID_WORDS: dict[str, dict[str, tuple[str, ...]]] = {"svm_rbf": {"gamma": ("scale", "auto")}}


def make_classifier(name: str, *, upsample: bool = False, random_state: int = 0,
                    **params) -> Any:
    """A standardise -> (upsample) -> classifier pipeline by name (see :data:`CLASSIFIERS`)."""
    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    factory, grid = CLASSIFIERS[name]
    unknown = set(params) - set(grid)
    if unknown:
        raise ConfigError(f"classifier {name!r} takes {sorted(grid)}, not {sorted(unknown)}")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from contaffect.models.estimators import Upsampled

    est = factory(random_state=random_state, **params)
    if upsample:
        est = Upsampled(est, random_state=random_state)
    if input_kind(name) == "sequence":              # frames are standardised inside
        return make_pipeline(est)
    return make_pipeline(StandardScaler(), est)


def fit_weighted(model, X: np.ndarray, y, sample_weight: np.ndarray | None = None,
                 **fit_params):
    """Fit a :func:`make_classifier` pipeline, routing ``sample_weight`` to its estimator.

    Every registered classifier accepts sample weights (libsvm / liblinear
    natively, the kernel ELM / PLS through their weighted solutions);
    :class:`Upsampled` does not combine with them.
    """
    name, est = model.steps[-1]
    routed = {f"{name}__{k}": v for k, v in fit_params.items()}
    if sample_weight is None:
        return model.fit(X, y, **routed)
    from contaffect.models.estimators import Upsampled

    if isinstance(est, Upsampled):
        raise ConfigError("sample weights and upsampling do not combine; choose one")
    return model.fit(X, y, **{f"{name}__sample_weight": sample_weight, **routed})


def grid_of(name: str, grid: dict[str, list] | None = None) -> list[dict]:
    """All parameter combinations of a classifier's grid (or of the given one)."""
    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    g = grid if grid is not None else CLASSIFIERS[name][1]
    keys = list(g)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(g[k] for k in keys))]


def sweep(
    name: str,
    X_train: np.ndarray,
    y_train: Sequence,
    X_devel: np.ndarray,
    y_devel: Sequence,
    *,
    grid: dict[str, list] | None = None,
    upsample: bool = False,
    random_state: int = 0,
    classes: Sequence | None = None,
) -> tuple["pd.DataFrame", dict, Any]:
    """Fit every grid point on train, score UAR on devel; refit nothing else.

    Returns
    -------
    table, best, model
        One row per grid point (parameters, ``devel_uar``, ``converged``: False
        where the solver stopped at its iteration limit); the best parameters
        (first of ties, so the smallest complexity in grid order); the model
        fitted with them on train.
    """
    import warnings

    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning

    rows, best, best_model = [], None, None
    for params in grid_of(name, grid):
        model = make_classifier(name, upsample=upsample, random_state=random_state, **params)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        score = uar(y_devel, model.predict(X_devel), labels=classes)
        rows.append({**params, "devel_uar": score, "converged": converged})
        if best is None or score > best[1] + 1e-12:
            best, best_model = (params, score), model
    return pd.DataFrame(rows), best[0], best_model
