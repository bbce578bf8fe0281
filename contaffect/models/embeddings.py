"""Pooled network embeddings as an utterance representation (``embed:<classifier>``).

seed 000 reads its networks' pooled embeddings (the last hidden FC layer after
the mean over time) to look at what they learnt (t-SNE, Fig. 2); here the
same vectors also serve as a representation for the kernel classifiers. The
network is trained on the corpus' training partition only, on the
experiment's first label (``Representations.options["embed_label"]``), with
its registered default settings and its default input: 40 Kaldi-style log-Mel
bands for seed 000's networks, 64 EmoNet-style ones for the ResNets,
eGeMAPS for the DBN.
"""

from __future__ import annotations

import numpy as np

from contaffect.errors import ConfigError
from contaffect.models.classifiers import CLASSIFIERS, input_kind, make_classifier

#: a network's default input representation
DEFAULT_INPUT = {"lstm": "logmel40_kaldi", "cnn": "logmel40_kaldi", "cnn_lstm": "logmel40_kaldi",
                 "resnet": "logmel64_emonet", "resnet_ra": "logmel64_emonet",
                 "resnet_ra_head": "logmel64_emonet", "dbn": "egemaps"}


def fit_embedder(classifier: str, X, y, random_state: int = 0, **params):
    """A registered neural classifier fitted on ``(X, y)`` with its default grid point."""
    if classifier not in DEFAULT_INPUT:
        raise ConfigError(f"embed:{classifier}: not a neural classifier; choose from "
                          f"{sorted(DEFAULT_INPUT)}")
    point = {k: v[0] for k, v in CLASSIFIERS[classifier][1].items()}
    return make_classifier(classifier, random_state=random_state, **{**point, **params}).fit(
        X, list(y))


def embed(model, X) -> np.ndarray:
    """Pooled embeddings of a fitted :func:`make_classifier` pipeline with a network."""
    est = model.steps[-1][1]
    if not hasattr(est, "embed"):
        raise ConfigError(f"{type(est).__name__} has no embed()")
    Z = est.embed(X if len(model.steps) == 1 else model[:-1].transform(X))
    return np.asarray(Z, dtype=np.float64)


def embed_representation(reps, name: str) -> np.ndarray:
    """The ``embed:<classifier>`` builder of :data:`~contaffect.features.representations.REPRESENTATIONS`."""
    clf = name[len("embed:"):]
    if clf not in DEFAULT_INPUT:
        raise ConfigError(f"{name}: {clf!r} is not a neural classifier; choose from "
                          f"{sorted(DEFAULT_INPUT)}")
    label = reps.options.get("embed_label")
    if not label:
        raise ConfigError(f"{name}: the experiment names no label to train the network on")
    X = reps.get(DEFAULT_INPUT[clf])
    y = np.array([r.labels.get(label) for r in reps.corpus], dtype=object)
    train = set(reps.train_ids())
    rows = np.array([i in train and y[k] is not None for k, i in enumerate(reps.ids)])
    if input_kind(clf) != "sequence":
        X = np.asarray(X)
    model = fit_embedder(clf, X[rows], y[rows], random_state=reps.random_state)
    if reps.out:
        import torch

        torch.save(model, reps.out / f"embed_{clf}.pt")
    return embed(model, X)
