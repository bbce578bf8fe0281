"""The measurement behind a departure from seed 000's recipe, from the code as committed.

Seed 000 stops early on the validation error rate with plain cross entropy; the
registered networks stop on validation UAR with class-balanced cross entropy. This
script trains the CNN both ways on the training speakers of a corpus and prints test
UAR, on the synthetic ravdess_like (3-class valence via seed000_table4_valence; from the
workdir of seed000_synthetic.toml, which it generates if absent) and, where
../shared/data holds it, on EMOVO.

Usage (from the repository root)::

    python experiments/neural/departures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from contaffect.experiment.config import load_config
from contaffect.experiment.pipeline import Pipeline
from contaffect.features.representations import Representations
from contaffect.metrics import uar
from contaffect.models.sequence_classifier import SequenceClassifier

HERE = Path(__file__).resolve().parent
SETTINGS = {"seed 000 (error rate, plain CE)": dict(early_stopping="error", class_weight="none"),
            "registered (UAR, balanced CE)": dict(early_stopping="uar",
                                                  class_weight="balanced")}


def run(config: str, corpus: str, label: str) -> None:
    cfg = load_config(HERE / config)
    pipe = Pipeline(cfg, Path(cfg.workdir), False)
    c = pipe.corpus(corpus)
    X = Representations(c, pipe.workdir / "store", progress=False).get("logmel40_kaldi")
    y = np.array([r.labels.get(label) for r in c], dtype=object)
    part = np.array([r.partition for r in c])
    tr = np.flatnonzero((part == "train") & (y != None))    # noqa: E711
    te = np.flatnonzero((part == "test") & (y != None))     # noqa: E711
    print(f"{corpus} {label}: {tr.size} training, {te.size} test utterances")
    for name, kw in SETTINGS.items():
        m = SequenceClassifier("cnn", max_epochs=12, **kw).fit(X[tr], y[tr])
        pred = m.predict(X[te])
        print(f"  {name:34s} test UAR {100 * uar(y[te].tolist(), pred.tolist()):.1f} %, "
              f"{len(set(pred.tolist()))} class(es) predicted")


if __name__ == "__main__":
    run("seed000_synthetic.toml", "ravdess_like", "valence")
    if (HERE / "../../../shared/data/emovo").resolve().is_dir():
        run("seed000_real.toml", "emovo", "valence")
