"""Compute devices by name (``auto``, ``cpu``, ``cuda``), shared by every layer that runs torch.

A foundation module (it imports torch only inside :func:`resolve_device`), so
that the features layer (SSL extraction) and the models layer (training) read
one registry.
"""

from __future__ import annotations

from contaffect.errors import ConfigError
from contaffect.registry import Registry

#: Devices: ``auto`` takes CUDA when present.
DEVICES = Registry("device")
DEVICES.add("auto", doc="CUDA when present, else the CPU")
DEVICES.add("cpu", doc="the CPU")
DEVICES.add("cuda", doc="the first CUDA GPU (an error if there is none)")


def resolve_device(name: str):
    """The torch device of a :data:`DEVICES` name (imports torch)."""
    import torch

    DEVICES.entry(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no GPU is available")
    return torch.device(name)
