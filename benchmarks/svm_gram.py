"""libsvm on a BLAS kernel matrix (GramLinearSVC, GramRBFSVC) against scikit-learn's SVC.

The same libsvm C-SVC either way; only how the kernel is computed differs. Prints
fit + decision time on ComParE-sized functionals (6373 features) for a few training
sizes, the ratio measured in the same run, and the largest difference of the
decision values.

Usage::

    python benchmarks/svm_gram.py [--sizes 300 700 1200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.svm import SVC

from contaffect.models.classifiers import GramLinearSVC, GramRBFSVC


def _time(make, X, y, Xa, repeats: int) -> tuple[float, np.ndarray]:
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = make().fit(X, y).decision_function(Xa)
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[300, 700, 1200])
    ap.add_argument("--features", type=int, default=6373)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'kernel':8} {'n':>5} {'SVC s':>8} {'Gram s':>8} {'speed-up':>9} {'max |diff|':>11}")
    for n in args.sizes:
        X = rng.standard_normal((n, args.features))
        y = np.array(["abcd"[i % 4] for i in range(n)])
        X[:, :4] += 0.5 * (np.searchsorted(list("abcd"), y)[:, None] == np.arange(4))
        Xa = rng.standard_normal((n + 200, args.features))
        gamma = 1.0 / args.features
        for name, ref, ours in (
                ("linear", lambda: SVC(C=1e-3, kernel="linear"), lambda: GramLinearSVC(C=1e-3)),
                ("rbf", lambda: SVC(C=2.0, gamma=gamma), lambda: GramRBFSVC(C=2.0, gamma=gamma))):
            t_ref, s_ref = _time(ref, X, y, Xa, args.repeats)
            t_ours, s_ours = _time(ours, X, y, Xa, args.repeats)
            print(f"{name:8} {n:5d} {t_ref:8.2f} {t_ours:8.2f} {t_ref / t_ours:8.1f}x "
                  f"{np.abs(s_ref - s_ours).max():11.1e}")


if __name__ == "__main__":
    main()
