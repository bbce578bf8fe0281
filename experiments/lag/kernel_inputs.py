"""Kernel first models for lag estimation: are nonlinear inputs worth a registry entry?

The lag estimator's first models are ridge regressions on each LLD's 1 s moving mean
(`means`) or mean and SD (`means_sd`). The synthetic voices put some affect into
interactions a linear model cannot use (valence tilts the F0 slope within an accent,
`contaffect/synth/voice.py`), so a nonlinear first model should predict the labels
better, and might place the lag better. This script adds, for this run only, two inputs
that make the ridge an approximate RBF-kernel ridge (random Fourier features, Rahimi &
Recht 2007):

- `rff`: :math:`z(m) = \\sqrt{2/D} \\cos(W m + b)` of the moving means :math:`m`
  (:math:`D = 256`, :math:`W_{ij} \\sim N(0, 1 / d)`, so the kernel's length scale is
  :math:`\\sqrt d`, the typical distance of speaker-normalised frames;
  :math:`b \\sim U(0, 2\\pi)`; seed 0);
- `means_rff`: the moving means beside those features (the linear model is then a
  special case).

Both use the default penalty (0.01 per frame). Then it runs `estimate_presets.py` with
the arguments given, which may name these inputs beside the registered ones:

    python experiments/lag/kernel_inputs.py OUT --scales 1 4 --seeds 1 0 2 --inputs means rff means_rff

The figures and the decision are in experiments/lag/README.md ("Kernel first models").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from contaffect.labels.lag import LAG_INPUTS, _smooth

FEATURES = 256           # random Fourier features
SEED = 0


def random_fourier(with_means: bool):
    """An input map ``(x, width) -> (n, d')`` for :data:`LAG_INPUTS`."""
    draws: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def inputs(x: np.ndarray, width: int) -> np.ndarray:
        m = _smooth(x, width)
        d = m.shape[1]
        if d not in draws:              # the same directions for every recording
            rng = np.random.default_rng(SEED)
            draws[d] = (rng.standard_normal((d, FEATURES)) / np.sqrt(d),
                        rng.uniform(0.0, 2 * np.pi, FEATURES))
        w, b = draws[d]
        z = np.sqrt(2.0 / FEATURES) * np.cos(m @ w + b)
        return np.hstack([m, z]) if with_means else z

    return inputs


if __name__ == "__main__":
    # registered for this run only: importing the module changes no registry
    LAG_INPUTS.add("rff", random_fourier(False), alpha=0.01,
                   doc=f"{FEATURES} random Fourier features of the moving means")
    LAG_INPUTS.add("means_rff", random_fourier(True), alpha=0.01,
                   doc="moving means and their random Fourier features")
    sys.path.insert(0, str(Path(__file__).parent))
    import estimate_presets

    estimate_presets.main()
