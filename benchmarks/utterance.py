"""Utterance-level benchmark: kernel classifiers against LinearSVC, and BoAW throughput.

1. Fit time of KELM, WKELM, KPLS (10 components) and WKPLS on ``--n`` utterances x
   6373 features (the ComParE functionals' size; Gaussian data with a class signal, 3
   imbalanced classes, standardised), against scikit-learn's LinearSVC (C = 1e-3, the
   middle of the ComParE sweep) on the same data, in one run. Figures are ratios
   to LinearSVC: below 1 means faster.
2. BoAW encoding throughput (frames per second) of 130-dimensional LLD frames with
   2 x 500 words and 10 assignments, and the codebook fit time (random sampling), as
   in the ComParE 2018 baseline.

Usage::

    python benchmarks/utterance.py [--n 10000] [--frames 500000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from contaffect.features.boaw import BagOfAudioWords
from contaffect.models.kernel import KernelELM, KernelPLS


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def classifiers(n: int, d: int = 6373, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.2, 0.3, 0.5])
    X = rng.standard_normal((n, d))
    X[:, :50] += 0.5 * y[:, None]
    X = StandardScaler().fit_transform(X)
    print(f"data: {n} x {d} float64 ({X.nbytes / 2**20:.0f} MiB), 3 classes")
    base, svc = timed(lambda: LinearSVC(C=1e-3, max_iter=20000).fit(X, y))
    print(f"LinearSVC(C=1e-3)        {base:8.1f} s   1.00x   train acc {svc.score(X, y):.3f}")
    for name, est in [("KELM (C=1)", KernelELM(C=1.0)),
                      ("WKELM (C=1, W2)", KernelELM(C=1.0, weighting="W2")),
                      ("KPLS (10 comp.)", KernelPLS(n_components=10)),
                      ("WKPLS (10 comp., W1)", KernelPLS(n_components=10, weighting="W1"))]:
        t, m = timed(lambda: est.fit(X, y))
        acc = np.mean(m.predict(X) == y)
        print(f"{name:24s} {t:8.1f} s   {t / base:.2f}x   train acc {acc:.3f}")


def boaw(frames: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    names = [f"lld{i}" for i in range(65)] + [f"lld{i}_de" for i in range(65)]
    seqs = [rng.standard_normal((500, 130)).astype(np.float32) for _ in range(frames // 500)]
    t_fit, bag = timed(lambda: BagOfAudioWords(codebook_size=500, n_assign=10).fit(
        seqs, names=names))
    t_enc, _ = timed(lambda: bag.transform(seqs))
    print(f"BoAW 2 x 500 words, 10 assignments: codebook {t_fit:.1f} s; encoding "
          f"{frames} frames in {t_enc:.1f} s = {frames / t_enc:,.0f} frames/s "
          f"({frames / t_enc / 100:,.0f}x real time at 100 frames/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--frames", type=int, default=500000)
    args = ap.parse_args()
    classifiers(args.n)
    boaw(args.frames)


if __name__ == "__main__":
    main()
