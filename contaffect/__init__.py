"""contaffect: time-continuous dimensional affect modelling from speech.

Cross-corpus and cross-task emotion recognition after Kaya, Fedotov et al.,
"LSTM based Cross-corpus and Cross-task Acoustic Emotion Recognition",
Interspeech 2018.
"""

__version__ = "0.1.0.dev0"

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
