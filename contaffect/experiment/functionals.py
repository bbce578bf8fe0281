"""Frame predictions -> one utterance score (Kaya, Fedotov et al. 2018, Sec. 4.2: the mean)."""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Name -> function of a 1-D array of frame predictions.
FUNCTIONALS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda x: float(np.mean(x)),
    "median": lambda x: float(np.median(x)),
    "max": lambda x: float(np.max(x)),
    "min": lambda x: float(np.min(x)),
    "std": lambda x: float(np.std(x)),
    "q25": lambda x: float(np.quantile(x, 0.25)),
    "q75": lambda x: float(np.quantile(x, 0.75)),
}
