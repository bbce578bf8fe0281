"""Experiments: TOML configs, data preparation, protocols, the pipeline and its report.

Names are imported on first use (PEP 562): reading a config does not import torch.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ExperimentConfig": "config", "from_dict": "config", "load_config": "config",
    "PreparedCorpus": "data", "prepare_corpus": "data",
    "HeldOut": "protocol", "run_cross_corpus": "protocol",
    "run_experiment": "runner",
}

__all__ = sorted([*_WHERE, "ProtocolError"])


def __getattr__(name: str):
    if name == "ProtocolError":
        from contaffect.errors import ProtocolError

        return ProtocolError
    if name in _WHERE:
        return getattr(importlib.import_module(f"contaffect.experiment.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'contaffect.experiment' has no attribute {name!r}")
