"""Models: sparse context windows, the LSTM regressor, its training loop, utterance classifiers.

Names are imported on first use (PEP 562), so that reading a config, which
needs :mod:`contaffect.models.config`, does not import torch.
"""

from __future__ import annotations

from contaffect.lazy import lazy_attributes

_WHERE = {
    "LSTMRegressor": "lstm",
    "ModelConfig": "config", "TrainConfig": "config", "LOSSES": "config", "DEVICES": "config",
    "SequenceSet": "train", "TrainResult": "train", "load_state": "train",
    "predict_frames": "train",
    "WindowIndex": "windows", "build_windows": "windows", "overlap_average": "windows",
    "window_offsets": "windows",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_attributes(__name__, _WHERE)
