"""contaffect: time-continuous dimensional affect modelling from speech.

Cross-corpus and cross-task emotion recognition after Kaya, Fedotov et al.,
"LSTM based Cross-corpus and Cross-task Acoustic Emotion Recognition",
Interspeech 2018.
"""

__version__ = "0.1.0.dev0"

from contaffect.threads import passive_openmp  # noqa: E402

# Before torch starts OpenMP's threads: waiting threads sleep instead of spinning, which
# keeps a fixed thread count usable beside another busy process (contaffect.threads).
passive_openmp()

from contaffect.errors import (  # noqa: E402
    AudioError,
    ConfigError,
    ContaffectError,
    CorpusError,
    FeatureError,
    ProtocolError,
    TraceError,
)

__all__ = [
    "AudioError",
    "ConfigError",
    "ContaffectError",
    "CorpusError",
    "FeatureError",
    "ProtocolError",
    "TraceError",
    "__version__",
]
