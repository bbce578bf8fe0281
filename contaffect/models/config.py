"""The ``[model]`` and ``[training]`` sections: LSTM architecture and optimisation.

Declared once here (type, range, default, meaning) and used both by the
config loader and by :func:`~contaffect.models.train.train`. Defaults follow
Kaya, Fedotov et al. (2018, Sec. 3.3): two LSTM layers of 80 and 60 units,
16 sparse steps over 8 s of context, Adam with learning rate 0.001, five
epochs, the epoch chosen by the validation corpus' CC. This module does not
import torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# devices live in the foundation layer (SSL extraction in the features layer uses them too)
from contaffect.devices import DEVICES, resolve_device  # noqa: F401
from contaffect.errors import ConfigError  # noqa: F401
from contaffect.options import Bool, Choice, Float, Int, ListOf, option
from contaffect.registry import Registry
from contaffect.threads import THREAD_POLICIES

#: Training losses (implemented in :mod:`contaffect.models.losses`).
LOSSES = Registry("loss")
LOSSES.add("mse", "contaffect.models.losses:mse_loss", "mean squared error over frames")
LOSSES.add("ccc", "contaffect.models.losses:ccc_loss",
           "1 - concordance correlation coefficient over the batch")


#: Arithmetic of training and prediction (autocast; implemented in :mod:`contaffect.models.train`).
PRECISIONS = Registry("precision")
PRECISIONS.add("fp32", doc="float32 throughout (the paper's)")
PRECISIONS.add("bf16", doc="bfloat16 autocast of the forward pass, float32 weights and "
                           "optimiser (CPU and CUDA)")


@dataclass(frozen=True)
class ModelConfig:
    """LSTM architecture and sparse context windows (the ``[model]`` section)."""

    units: tuple[int, ...] = option((80, 60), "LSTM layer sizes, input side first (paper: 80, 60).",
                                    ListOf(Int(min=1, max=4096), min_len=1))
    many_to_many: bool = option(True, "A prediction for every window step (true) or only for "
                                      "the window's last frame (false).", Bool())
    n_steps: int = option(16, "Frames per sparse window (paper: 16).", Int(min=1, max=1024))
    context_s: float = option(8.0, "Seconds of context a window spans (paper: 8 s).",
                              Float(min=0.0, min_open=True, max=600.0))
    dropout: float = option(0.0, "Dropout between LSTM layers.", Float(min=0.0, max=1.0,
                                                                        max_open=True))
    joint: bool = option(False, "One model with an output per dimension (true) or one model "
                                "per dimension (false, the paper's).", Bool())


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (the ``[training]`` section; the seed comes from the top-level ``seeds``)."""

    epochs: int = option(5, "Epochs over all training windows; every epoch is scored on the "
                            "validation corpus and the best kept (paper: 5).", Int(min=1, max=10000))
    lr: float = option(1e-3, "Adam learning rate (paper: 0.001).",
                       Float(min=0.0, min_open=True, max=10.0))
    batch_size: int = option(256, "Windows per batch.", Int(min=1, max=1_000_000))
    loss: str = option("mse", "Training loss.", Choice(LOSSES))
    input_noise: float = option(0.0, "Standard deviation of Gaussian noise added to the "
                                     "(z-normalised) inputs during training.",
                                Float(min=0.0, max=100.0))
    hop: int = option(1, "Frames between the ends of consecutive training windows.",
                      Int(min=1, max=100000))
    seed: int = option(0, "Seeds initialisation, shuffling, dropout and noise.", Int(min=0),
                       config=False)
    device: str = option("auto", "Where to train and predict.", Choice(DEVICES))
    threads: int = option(0, "Torch threads on the CPU; 0 lets `thread_policy` choose "
                             "(benchmarks/README.md shows the trade-off beside a busy process).",
                          Int(min=0, max=1024))
    thread_policy: str = option("allocation", "How `threads = 0` is resolved.",
                                Choice(THREAD_POLICIES))
    precision: str = option("fp32", "Arithmetic of the LSTM's forward pass.", Choice(PRECISIONS))

    def numbers(self) -> dict:
        """The options that change the numbers (keys of checkpoints and model caches).

        ``threads`` and ``thread_policy`` change the speed and, through the
        order of torch's reductions, the last bits of the weights, not what is
        computed, so a model trained with one count is reused with another
        (as with another machine); ``precision`` enters only when it is not
        the default, so that models trained before it existed stay valid.
        """
        out = asdict(self)
        out.pop("threads")
        out.pop("thread_policy")
        if self.precision == "fp32":
            out.pop("precision")
        return out

