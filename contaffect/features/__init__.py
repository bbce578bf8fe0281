"""Features: openSMILE extraction, the HDF5 store, alignment and normalisation.

Names are imported on first use (PEP 562), so that reading a config does not
import openSMILE or h5py.
"""

from __future__ import annotations

from contaffect.lazy import lazy_attributes

# ``normalise`` is both a submodule and its main function; bind the function
# now (numpy only), or a later import of the submodule would shadow it.
from contaffect.features.normalise import NORMALISATIONS, normalise, zscore_stats

_WHERE = {
    "AudioInfo": "audio", "read_audio": "audio",
    "ExtractionReport": "extract", "extract_corpus": "extract",
    "load_corpus_features": "extract",
    "Frames": "frames", "align_to_grid": "frames",
    "normalise": "normalise", "zscore_stats": "normalise", "NORMALISATIONS": "normalise",
    "FEATURE_SETS": "smile", "FeatureSet": "smile", "SmileExtractor": "smile",
    "get_feature_set": "smile",
    "FeatureStore": "store",
    "FeatureConfig": "config",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_attributes(__name__, _WHERE)
