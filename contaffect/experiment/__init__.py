"""Experiments: TOML configs, data preparation, protocols, the pipeline and its report.

Names are imported on first use (PEP 562): reading a config does not import torch.
"""

from __future__ import annotations

from contaffect.lazy import lazy_attributes

_WHERE = {
    "ExperimentConfig": "config", "from_dict": "config", "load_config": "config",
    "PreparedCorpus": "data", "prepare_corpus": "data",
    "HeldOut": "protocol", "run_cross_corpus": "protocol",
    "run_experiment": "runner",
}

__all__ = sorted([*_WHERE, "ProtocolError"])


_lazy = lazy_attributes(__name__, _WHERE)


def __getattr__(name: str):
    if name == "ProtocolError":
        from contaffect.errors import ProtocolError

        return ProtocolError
    return _lazy(name)
