"""Experiments: TOML configs, data preparation, the cross-corpus protocol, reports."""

from contaffect.experiment.config import ExperimentConfig, from_dict, load_config
from contaffect.experiment.data import PreparedCorpus, prepare_corpus
from contaffect.experiment.protocol import HeldOut, ProtocolError, run_cross_corpus
from contaffect.experiment.runner import run_experiment

__all__ = [
    "ExperimentConfig", "HeldOut", "PreparedCorpus", "ProtocolError", "from_dict",
    "load_config", "prepare_corpus", "run_cross_corpus", "run_experiment",
]
