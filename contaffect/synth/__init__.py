"""The embedded default: synthetic corpora written in the real corpora's layouts.

>>> from contaffect.synth import generate
>>> report = generate("recola_like", "data/recola_like", scale=0.2, seed=0)  # doctest: +SKIP
>>> report["ceiling"]["arousal"]["pooled"]  # doctest: +SKIP

Names are imported on first use (PEP 562), so that checking a preset name in
a config does not import the signal-processing stack.
"""

from __future__ import annotations

from contaffect.lazy import lazy_attributes

_WHERE = {"ceiling": "generate", "load_truth": "generate",
          "PRESETS": "presets", "Preset": "presets", "get_preset": "presets"}

__all__ = sorted(_WHERE)  # generate(): import it from contaffect.synth.generate


__getattr__ = lazy_attributes(__name__, _WHERE)
