"""Test-corpus frame predictions written out with a report: CSV, or an audformat database.

The report's tables hold scores; a user who wants to re-score, plot or share the
predictions themselves (issue 15: "write any prediction table out as an audformat
database") sets the top-level ``predictions`` option to one of
:data:`PREDICTION_FORMATS`. Each assignment of the main configuration's first seed
(the results the report plots) gets one table: a row per test frame, indexed like
audinterface (file, start, end), with the prediction of every dimension, the
post-processed prediction (``<dim>_pp``) where the run post-processed, and the gold
standard the scores were computed against (``<dim>_gold``, NaN where masked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from contaffect.registry import Registry


def prediction_columns(result) -> tuple[dict[str, np.ndarray], list[str]]:
    """Recording id -> ``(n, k)`` frames of every column, and the ``k`` column names.

    Parameters
    ----------
    result
        A :class:`~contaffect.experiment.protocol.CrossCorpusResult`.
    """
    keys = [("best", "")] + ([("best_pp", "_pp")] if "best_pp" in result.predictions else [])
    names = [f"{d}{suffix}" for _, suffix in keys for d in result.dims]
    names += [f"{d}_gold" for d in result.dims]
    frames = {}
    for rid in result.predictions["best"]:
        blocks = []
        for key, _ in keys:
            p = np.asarray(result.predictions[key][rid], dtype=np.float64)
            blocks.append(p[:, None] if p.ndim == 1 else p)
        n = blocks[0].shape[0]
        for d in result.dims:
            g = np.full(n, np.nan)
            gold = np.asarray(result.gold[d][rid], dtype=np.float64)[:n]
            g[:gold.size] = gold
            blocks.append(g[:, None])
        frames[rid] = np.hstack(blocks)
    return frames, names


def _tag(result) -> str:
    return f"predictions_{result.train}-{result.val}-{result.test}_{'+'.join(result.dims)}"


def _none(result, files: Mapping[str, str], out: Path) -> Path | None:
    return None


def _csv(result, files: Mapping[str, str], out: Path) -> Path:
    import pandas as pd        # here, not at the top: the CLI's --help reads this registry

    frames, names = prediction_columns(result)
    parts = []
    for rid, values in frames.items():
        j = np.arange(values.shape[0])
        part = pd.DataFrame(values, columns=names)
        part.insert(0, "end", (j + 1) / result.rate)
        part.insert(0, "start", j / result.rate)
        part.insert(0, "file", files[rid])
        part.insert(0, "recording", rid)
        parts.append(part)
    path = out / f"{_tag(result)}.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def _audformat(result, files: Mapping[str, str], out: Path) -> Path:
    from contaffect.corpus.audformat_io import frame_table, write_predictions

    frames, names = prediction_columns(result)
    table = frame_table(frames, result.rate, files, names)
    return write_predictions(table, out / _tag(result), name="predictions")


#: How the test frame predictions are written (the top-level ``predictions`` option):
#: each entry maps (result, recording id -> file, report folder) to what it wrote.
PREDICTION_FORMATS = Registry("prediction format")
PREDICTION_FORMATS.add("none", _none, doc="not written (the report's tables hold the scores)")
PREDICTION_FORMATS.add("csv", _csv, doc="predictions_<train>-<val>-<test>_<dims>.csv: recording, "
                                        "file, start, end (s), every dimension, `_pp`, `_gold`")
PREDICTION_FORMATS.add("audformat", _audformat,
                       doc="predictions_<train>-<val>-<test>_<dims>/: an audformat database "
                           "with one segmented table (needs the [audformat] extra)")


def write_prediction_tables(results, files: Mapping[str, Mapping[str, str]], out: Path,
                            fmt: str) -> list[Path]:
    """Write every result's test frame predictions in format ``fmt``.

    Parameters
    ----------
    results
        Cross-corpus results (the report's plotted ones).
    files
        Test corpus name -> recording id -> audio file named in the index.
    out
        The report folder.
    fmt
        A :data:`PREDICTION_FORMATS` name.
    """
    writer = PREDICTION_FORMATS.get(fmt)
    written = [writer(res, files[res.test], out) for res in results]
    return [p for p in written if p is not None]
