"""One exception hierarchy for everything contaffect refuses to do.

Every message says which file or field, what was expected and what to do, so
that the command line can print it as one line instead of a traceback.
"""

from __future__ import annotations


class ContaffectError(Exception):
    """Base class of every error contaffect raises on purpose."""


class CorpusError(ContaffectError):
    """A corpus description or layout on disk is inconsistent."""


class AudioError(ContaffectError):
    """An audio file is missing, empty, truncated or not audio."""


class TraceError(ContaffectError):
    """A time-continuous annotation trace is malformed or does not fit its audio."""


class FeatureError(ContaffectError):
    """Feature extraction or the feature store failed."""


class ClusterError(FeatureError):
    """A Dask cluster cannot be reached or used (workers that do not share the store)."""


class ConfigError(ContaffectError):
    """An experiment or command-line parameter is invalid."""


class ProtocolError(ContaffectError):
    """An experiment was about to break its protocol (e.g. fit on or re-score the test set)."""
