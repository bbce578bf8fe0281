"""The ``[features]`` section: which frame-level features, at which rate, normalised how.

Declared once here and read by the config loader, the command line and the
experiment's data preparation. Defaults follow Kaya, Fedotov et al. (2018,
Sec. 3.2): ComParE 2016 LLDs with deltas, resampled to the 25 Hz label grid,
z-normalised per speaker.
"""

from __future__ import annotations

from dataclasses import dataclass

from contaffect.features.normalise import NORMALISATIONS
from contaffect.labels.processing import DEFAULT_RATE
from contaffect.options import Choice, Float, Int, option


def lld_sets() -> list[str]:
    """Names of the frame-level (LLD) feature sets (imports openSMILE's wrapper)."""
    from contaffect.features.smile import FEATURE_SETS

    return [k for k, v in FEATURE_SETS.items() if v.kind == "lld"]


@dataclass(frozen=True)
class FeatureConfig:
    """Frame-level features for the time-continuous models (the ``[features]`` section)."""

    set: str = option("compare2016_lld", "Frame-level feature set.", Choice(lld_sets))
    rate: float = option(DEFAULT_RATE, "Label grid in Hz: features and gold standards are aligned to it "
                               "(paper: 25).", Float(min=0.0, min_open=True, max=1000.0))
    normalisation: str = option("speaker", "Feature normalisation; speaker statistics use no "
                                           "labels, so test speakers are normalised with their "
                                           "own frames.", Choice(NORMALISATIONS))
    workers: int = option(2, "Files extracted in parallel (threads; openSMILE releases the GIL).",
                          Int(min=1, max=256))
