"""Features: openSMILE extraction, the HDF5 store, alignment and normalisation."""

from contaffect.features.audio import AudioInfo, read_audio
from contaffect.features.extract import ExtractionReport, extract_corpus, load_corpus_features
from contaffect.features.frames import Frames, align_to_grid
from contaffect.features.normalise import normalise, zscore_stats
from contaffect.features.smile import FEATURE_SETS, FeatureSet, SmileExtractor, get_feature_set
from contaffect.features.store import FeatureStore

__all__ = [
    "AudioInfo",
    "ExtractionReport",
    "FEATURE_SETS",
    "FeatureSet",
    "FeatureStore",
    "Frames",
    "SmileExtractor",
    "align_to_grid",
    "extract_corpus",
    "get_feature_set",
    "load_corpus_features",
    "normalise",
    "read_audio",
    "zscore_stats",
]
