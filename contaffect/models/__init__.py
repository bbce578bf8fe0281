"""Models: sparse context windows, the LSTM regressor and its training loop."""

from contaffect.models.lstm import LSTMRegressor
from contaffect.models.train import (
    ModelConfig,
    SequenceSet,
    TrainConfig,
    TrainResult,
    load_state,
    predict_frames,
    train,
)
from contaffect.models.windows import (
    WindowIndex,
    build_windows,
    overlap_average,
    window_offsets,
)

__all__ = [
    "LSTMRegressor", "ModelConfig", "SequenceSet", "TrainConfig", "TrainResult", "WindowIndex",
    "build_windows", "load_state", "overlap_average", "predict_frames", "train", "window_offsets",
]
