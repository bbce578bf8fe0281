"""The embedded default: synthetic corpora written in the real corpora's layouts.

>>> from contaffect.synth import generate
>>> report = generate("recola_like", "data/recola_like", scale=0.2, seed=0)  # doctest: +SKIP
>>> report["ceiling"]["arousal"]["pooled"]  # doctest: +SKIP
"""

from contaffect.synth.generate import ceiling, generate, load_truth
from contaffect.synth.presets import PRESETS, Preset, get_preset

__all__ = ["PRESETS", "Preset", "ceiling", "generate", "get_preset", "load_truth"]
