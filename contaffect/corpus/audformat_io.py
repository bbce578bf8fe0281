"""audformat databases as corpora, in and out.

audEERING's `audformat <https://audeering.github.io/audformat/>`_ stores a
database as a folder with a header ``db.yaml`` and tables: *filewise* (index
``file``) or *segmented* (index ``file``, ``start``, ``end`` as timedeltas),
whose columns use *schemes* (``arousal``: float, ``emotion``: labels) and name
their *rater*; *splits* (``train``, ``dev``, ``test``) are attached to tables.

========================================  ============================================
audformat                                  contaffect
========================================  ============================================
a file in any table's index                :class:`Recording` (``audio`` = root / file)
filewise column ``id`` (if present)        ``Recording.id`` (else the file's stem)
filewise column ``speaker`` (or scheme)    ``Recording.speaker`` (else the file's stem)
filewise column ``gender`` / speaker map   ``Recording.gender``
split of a table holding the file          ``Recording.partition`` (``dev`` -> ``devel``)
segmented column, scheme ``arousal`` ...   one rater of ``Recording.traces["arousal"]``
segmented column whose rater is a ``vote`` ``Recording.gold["arousal"]``
  (or named ``gold``)
other filewise columns                     ``Recording.labels``
========================================  ============================================

A time-continuous trace is a run of consecutive segments of one fixed step
(label frames, e.g. 40 ms). **A trace sample's time is its segment's start**
(``times="start"``, the default): annotation tools sample a rating at an
instant and hold it until the next one, so segment ``[t_k, t_k + h)`` carries
the rating taken at ``t_k``; this is also the AVEC ``frameTime`` convention of
the other loaders and the grid ``t_k = k / rate`` the label processing uses, and
it makes :func:`write_audformat` -> :func:`load_audformat` exact. Databases
whose segment values are averages over the segment can be read with
``times="mid"``.

audformat itself is imported inside the functions, so importing this module
is cheap; install it with ``pip install 'contaffect[audformat]'``.
"""

from __future__ import annotations

import filecmp
import logging
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError, TraceError
from contaffect.labels.processing import (
    DIMENSIONS,
    NAN_REPAIRS,
    RAGGED_REPAIRS,
    interpolate_nans,
)
from contaffect.labels.trace import Trace

log = logging.getLogger(__name__)

#: audformat split ids (and split types) -> contaffect partitions.
SPLIT_TO_PARTITION = {"train": "train", "dev": "devel", "devel": "devel",
                      "development": "devel", "validation": "devel", "val": "devel",
                      "test": "test"}
#: contaffect partitions -> audformat split ids (the split type is the same word).
PARTITION_TO_SPLIT = {"train": "train", "devel": "dev", "test": "test"}
#: Filewise columns that are not utterance labels.
RESERVED = ("id", "speaker", "gender", "partition")
GOLD = "gold"
AUDIO_DIR = "audio"
MEDIA_ID = "audio"


def _audformat():
    """The audformat module, or a one-line error saying how to install it."""
    try:
        import audformat
    except ImportError:
        raise CorpusError("audformat databases need the audformat package: "
                          "pip install 'contaffect[audformat]'") from None
    return audformat


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safe_name(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(text))
    return out or "corpus"


def _partition_of(split_id: str, split_type: str | None) -> str:
    key = str(split_id).lower()
    if key in SPLIT_TO_PARTITION:
        return SPLIT_TO_PARTITION[key]
    if split_type and str(split_type).lower() in SPLIT_TO_PARTITION:
        return SPLIT_TO_PARTITION[str(split_type).lower()]
    return str(split_id)


def _py(value: Any) -> Any:
    """A table cell as a plain Python value (``None`` for missing)."""
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    if isinstance(value, np.generic):
        return value.item()
    return value


def _ns(index_level: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Timedeltas as int64 nanoseconds and a NaT mask."""
    arr = np.asarray(index_level.to_numpy(), dtype="timedelta64[ns]")
    nat = np.isnat(arr)
    return arr.astype(np.int64), nat


# ================================================================ reading
def _filewise_columns(db, where: str) -> dict[str, dict]:
    """Column id -> {"values": Series by file, "tables": [...], "scheme": id}, merged over
    filewise tables (a label split over ``emotion.train`` / ``emotion.test``); the same file
    with two different values is refused."""
    out: dict[str, dict] = {}
    for tid, table in db.tables.items():
        if not table.is_filewise:
            continue
        df = table.df
        for cid, col in table.columns.items():
            series = df[cid]
            series = series[series.notna()]
            if cid not in out:
                out[cid] = {"values": series.astype(object), "tables": [tid],
                            "scheme": col.scheme_id}
                continue
            known = out[cid]
            common = known["values"].index.intersection(series.index)
            if len(common):
                a = known["values"].loc[common].map(str)
                b = series.loc[common].map(str)
                differ = a != b
                if differ.any():
                    f = common[np.flatnonzero(differ.to_numpy())[0]]
                    raise CorpusError(
                        f"{where}: column {cid!r} gives file {f!r} the value "
                        f"{known['values'].loc[f]!r} in table {known['tables'][0]!r} and "
                        f"{series.loc[f]!r} in table {tid!r}; rename one of the columns")
            extra = series[~series.index.isin(known["values"].index)].astype(object)
            known["values"] = pd.concat([known["values"], extra])
            known["tables"].append(tid)
    return out


def _fill_gaps(starts: np.ndarray, ends: np.ndarray, end_nat: np.ndarray, values: np.ndarray,
               step_tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    r"""Segments left out of a fixed-step table, put back as rows of NaN (a skipped stretch).

    The step :math:`h` is the median distance between segment starts, and the
    median segment lasts one step (a tiling). Where a segment lasts
    one step and the next one starts :math:`m \ge 2` whole steps after it
    (within ``step_tolerance``), the :math:`m - 1` segments between them are
    inserted with NaN values, so that the trace is consecutive again and the
    stretch is masked by the label processing (``on_nan = "mask"``). Anything
    else (overlaps, segments shorter than the step, fractional gaps) is left
    for :func:`_check_segments` to refuse. Returns the arrays and the number
    of rows inserted.
    """
    n = starts.size
    if n < 2:
        return starts, ends, end_nat, values, 0
    steps = np.diff(starts)
    step = int(np.median(steps))
    tol = max(step_tolerance * step, 2.0)
    durations = (ends - starts)[~end_nat]
    if step <= 0 or durations.size == 0 or abs(np.median(durations) - step) > tol:
        return starts, ends, end_nat, values, 0      # not a tiling with one step: refused later
    m = np.rint(steps / step).astype(np.int64)
    fill = ((m >= 2) & (np.abs(steps - m * step) <= tol) & ~end_nat[:-1]
            & (np.abs((ends - starts)[:-1] - step) <= tol))
    if not fill.any():
        return starts, ends, end_nat, values, 0
    counts = np.ones(n, dtype=np.int64)
    counts[:-1][fill] = m[fill]
    pos = np.concatenate([[0], np.cumsum(counts)[:-1]])      # each given row's new place
    owner = np.repeat(np.arange(n), counts)
    j = np.arange(int(counts.sum())) - pos[owner]            # 0: the row itself, >0: inserted
    new_starts = starts[owner] + j * step
    new_ends = new_starts + step
    new_ends[pos] = ends
    new_nat = np.zeros(new_starts.size, dtype=bool)
    new_nat[pos] = end_nat
    new_values = np.full((new_starts.size, values.shape[1]), np.nan)
    new_values[pos] = values
    return new_starts, new_ends, new_nat, new_values, int(new_starts.size - n)


def _check_segments(starts: np.ndarray, ends: np.ndarray, end_nat: np.ndarray,
                    where: str, step_tolerance: float) -> int:
    """Check that sorted segments tile time with one fixed step; returns the step in ns."""
    n = starts.size
    if n < 2:
        raise CorpusError(f"{where}: one segment only, not a time-continuous trace (put "
                          "utterance-level values in a filewise table)")
    steps = np.diff(starts)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise CorpusError(f"{where}: segments overlap: two start at {starts[k] / 1e9:.4f} s")
    step = int(np.median(steps))
    tol = max(step_tolerance * step, 2.0)
    if np.any(np.abs(steps - step) > tol):
        raise CorpusError(
            f"{where}: segments are not one fixed step: starts are {steps.min() / 1e9:.4g} to "
            f"{steps.max() / 1e9:.4g} s apart (a trace needs consecutive label frames)")
    if np.any(end_nat[:-1]):
        k = int(np.flatnonzero(end_nat[:-1])[0])
        raise CorpusError(f"{where}: the segment at {starts[k] / 1e9:.4f} s has no end (NaT) "
                          "but is not the last")
    gap = starts[1:] - ends[:-1]
    if np.any(gap < -tol):
        k = int(np.flatnonzero(gap < -tol)[0])
        raise CorpusError(
            f"{where}: segments overlap: [{starts[k] / 1e9:.4f}, {ends[k] / 1e9:.4f}) s runs "
            f"past the next start {starts[k + 1] / 1e9:.4f} s")
    if np.any(gap > tol):
        k = int(np.flatnonzero(gap > tol)[0])
        raise CorpusError(
            f"{where}: segments leave gaps: [{starts[k] / 1e9:.4f}, {ends[k] / 1e9:.4f}) s "
            f"ends before the next start {starts[k + 1] / 1e9:.4f} s (a trace needs "
            "consecutive label frames)")
    if not end_nat[-1]:
        last = ends[-1] - starts[-1]
        if last <= 0 or last > step + tol:
            raise CorpusError(
                f"{where}: the last segment lasts {last / 1e9:.4g} s, not one step of "
                f"{step / 1e9:.4g} s")
    return step


def _trace_of(sub: pd.DataFrame, columns: list[str], names: list[str] | None, where: str, *,
              times: str, on_nan: str, on_ragged: str, step_tolerance: float) -> Trace | None:
    """The trace of one file from its rows of a dimension's columns (None if unrated)."""
    names = list(columns) if names is None else names
    values = sub[columns].to_numpy(dtype=np.float64)
    rated = np.isfinite(values)
    rows = np.flatnonzero(rated.any(axis=1))
    if rows.size == 0:
        return None
    keep_rows = slice(int(rows[0]), int(rows[-1]) + 1)       # the raters' span
    keep_cols = rated.any(axis=0)                            # raters of this file
    values = values[keep_rows][:, keep_cols]
    raters = [n for n, k in zip(names, keep_cols) if k]
    starts, _ = _ns(sub.index.get_level_values("start")[keep_rows])
    ends, end_nat = _ns(sub.index.get_level_values("end")[keep_rows])
    start_nat = np.isnat(np.asarray(sub.index.get_level_values("start")[keep_rows].to_numpy(),
                                    dtype="timedelta64[ns]"))
    if start_nat.any():
        raise CorpusError(f"{where}: a segment has no start (NaT)")
    starts, ends, end_nat, values, inserted = _fill_gaps(starts, ends, end_nat, values,
                                                          step_tolerance)
    if inserted:
        first = float(starts[np.flatnonzero(np.isnan(values).all(axis=1))[0]]) / 1e9
        if on_nan == "error":
            raise CorpusError(
                f"{where}: segments leave gaps: {inserted} segment(s) of the fixed step are "
                f"left out (the first at {first:.4f} s); pass on_nan='mask' to leave those "
                "stretches unlabelled")
        log.info("%s: %d left-out segment(s) read as NaN rows (the first at %.4f s)", where,
                 inserted, first)
    _check_segments(starts, ends, end_nat, where, step_tolerance)
    if times == "mid":
        if end_nat[-1]:
            raise CorpusError(f"{where}: the last segment has no end (NaT): read it with "
                              "times='start'")
        t = (starts + (ends - starts) / 2.0) / 1e9
    else:
        t = starts / 1e9
    # a rater whose values stop early is ragged (as in read_trace_csv)
    lengths = [int(np.flatnonzero(np.isfinite(values[:, j]))[-1]) + 1
               for j in range(values.shape[1])]
    n = values.shape[0]
    if min(lengths) < n:
        short = ", ".join(f"{r} ({k} of {n} segments)" for r, k in zip(raters, lengths) if k < n)
        msg = f"{where}: rater(s) {short} end early"
        if on_ragged == "error":
            raise TraceError(msg + "; pass on_ragged='truncate' to cut all raters to the shortest")
        log.info("%s; truncated to %d segments", msg, min(lengths))
        n = min(lengths)
    trace = Trace(t[:n], values[:n], tuple(raters), source=where)
    if not np.all(np.isfinite(trace.values)):
        if on_nan == "interpolate":
            log.info("%s: interpolated %d missing values", where,
                     int((~np.isfinite(trace.values)).sum()))
            return interpolate_nans(trace)
        if on_nan == "mask":       # kept: the gaps' frames are masked when gold is built
            return trace
        trace.require_finite("load_audformat")
    return trace


def _dimension_columns(db, dim: str, where: str) -> list[tuple[str, str, str, bool]]:
    """(table, column, rater name, is gold) of every segmented column using scheme ``dim``."""
    found = []
    for tid, table in db.tables.items():
        if not table.is_segmented:
            continue
        for cid, col in table.columns.items():
            if col.scheme_id != dim:
                continue
            rater = col.rater_id
            gold = (rater is not None and rater in db.raters
                    and db.raters[rater].type == "vote") or (rater or cid) == GOLD
            found.append((tid, cid, rater or cid, gold))
    names = [n for _, _, n, _ in found]
    dup = {n for n in names if names.count(n) > 1}
    return [(t, c, f"{t}.{c}" if n in dup else n, g) for t, c, n, g in found]


def _joined(db, columns: list[tuple[str, str, str]]) -> tuple[pd.DataFrame, str]:
    """The (table, column, name) columns side by side on their segments, and the tables."""
    tables = list(dict.fromkeys(t for t, _, _ in columns))
    parts = [db.tables[tid].df[[c for t, c, _ in columns if t == tid]]
             .set_axis([n for t, _, n in columns if t == tid], axis=1) for tid in tables]
    frame = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    return frame.sort_index(), ", ".join(tables)


def load_audformat(
    path: str | Path,
    *,
    name: str | None = None,
    dimensions: Sequence[str] | None = None,
    times: Literal["start", "mid"] = "start",
    min_raters: int = 1,
    on_missing_audio: Literal["error", "skip"] = "error",
    on_nan: Literal["error", "interpolate", "mask"] = "error",
    on_ragged: Literal["error", "truncate"] = "error",
    step_tolerance: float = 0.01,
) -> Corpus:
    """Load an audformat database folder (``db.yaml`` + tables) as a :class:`Corpus`.

    Parameters
    ----------
    path
        The database folder (``audformat.Database.load(path, load_data=True)``).
    name
        Corpus name; default the database's name.
    dimensions
        Dimensions that must be present as time-continuous tables, and the only
        ones read (e.g. ``("arousal", "valence")``). Default: every scheme named
        like a dimension (:data:`~contaffect.labels.processing.DIMENSIONS`) that
        a segmented table uses.
    times
        A trace sample's time: its segment's start (``"start"``, default; see
        the module docstring for why) or midpoint (``"mid"``).
    min_raters
        Raters every time-continuous dimension needs (2 or more for EWE or
        DTW-based fusion); fewer is a one-line error naming the table.
    on_missing_audio
        A file of the tables that does not exist under ``path``: ``"error"``
        (default) or ``"skip"`` (dropped, logged).
    on_nan
        Missing values inside a rater's trace, and segments of the fixed step
        left out of a table (read as NaN rows): ``"error"``, ``"interpolate"``
        or ``"mask"`` (kept as NaN, as :func:`~contaffect.corpus.read_trace_csv`
        does: the label processing masks their frames).
    on_ragged
        A rater whose values stop before the others': ``"error"`` or
        ``"truncate"`` (cut every rater to the shortest).
    step_tolerance
        How far (a fraction of the step) segment starts may stray from one
        fixed step before a table is refused as not time-continuous.

    Returns
    -------
    Corpus
        Audio paths are absolute, under the resolved database folder.
    """
    NAN_REPAIRS.entry(on_nan)
    RAGGED_REPAIRS.entry(on_ragged)
    if times not in ("start", "mid"):
        raise CorpusError(f"load_audformat: times must be 'start' or 'mid', got {times!r}")
    if on_missing_audio not in ("error", "skip"):
        raise CorpusError(f"load_audformat: on_missing_audio must be 'error' or 'skip', "
                          f"got {on_missing_audio!r}")
    root = Path(path)
    if not root.is_dir():
        raise CorpusError(f"audformat database folder {root} does not exist")
    if not (root / "db.yaml").is_file():
        raise CorpusError(f"{root} has no db.yaml: not an audformat database "
                          "(audformat.Database.save writes one)")
    root = root.resolve()
    audformat = _audformat()
    try:
        db = audformat.Database.load(str(root), load_data=True)
    except Exception as exc:  # audformat raises many kinds; say which file, in one line
        raise CorpusError(f"{root / 'db.yaml'}: audformat cannot load it: "
                          f"{_one_line(exc)}") from None
    where = str(root)

    # ---- which dimensions, and their columns
    segmented_schemes = {c.scheme_id for t in db.tables.values() if t.is_segmented
                         for c in t.columns.values()}
    if dimensions is None:
        dims = [d for d in DIMENSIONS.names() if d in segmented_schemes]
        ignored = sorted(str(x) for x in segmented_schemes - set(dims) if x is not None)
        if ignored:
            log.info("%s: segmented columns with scheme(s) %s are not affect dimensions "
                     "(%s) and are not read", where, ignored, ", ".join(DIMENSIONS.names()))
    else:
        dims = [str(d) for d in dimensions]
        missing = [d for d in dims if d not in db.schemes]
        if missing:
            raise CorpusError(
                f"{where}: no {' / '.join(missing)} scheme: the database has schemes "
                f"{sorted(db.schemes) or 'none'}; time-continuous labels need a segmented "
                f"table whose columns use a {missing[0]!r} scheme")
        unused = [d for d in dims if d not in segmented_schemes]
        if unused:
            users = sorted(tid for tid, t in db.tables.items()
                           for c in t.columns.values() if c.scheme_id == unused[0])
            raise CorpusError(
                f"{where}: scheme {unused[0]!r} is used by no segmented table (only by "
                f"{users or 'no table'}): no time-continuous {unused[0]} labels")
    dim_columns = {}
    for dim in dims:
        scheme = db.schemes[dim]
        cols = _dimension_columns(db, dim, where)
        if scheme.dtype not in ("float", "int"):
            raise CorpusError(f"{where}: scheme {dim!r} has dtype {scheme.dtype!r}; a "
                              "time-continuous trace needs float or int values")
        raters = [n for _, _, n, g in cols if not g]
        golds = [f"{t}.{c}" for t, c, _, g in cols if g]
        if len(golds) > 1:
            raise CorpusError(f"{where}: {dim} has {len(golds)} gold-standard columns "
                              f"({', '.join(golds)}); keep one")
        tables = sorted({t for t, *_ in cols})
        if min_raters > 1 and len(raters) < min_raters:
            raise CorpusError(
                f"{where}: {dim} has {len(raters)} rater column(s) "
                f"({', '.join(raters) or 'none'}) in table(s) {', '.join(tables)}; "
                f"{min_raters} needed (EWE and DTW-based rater fusion need two or more)")
        dim_columns[dim] = cols

    # ---- media
    files = [str(f) for f in db.files]
    if not files:
        raise CorpusError(f"{where}: the database lists no media files (tables: "
                          f"{sorted(db.tables) or 'none'})")
    exists = np.array([(root / f).is_file() for f in files])
    if not exists.all():
        missing = [f for f, e in zip(files, exists) if not e]
        msg = (f"{where}: {len(missing)} of {len(files)} media file(s) do not exist under the "
               f"database folder, e.g. {missing[:5]}")
        if on_missing_audio == "error":
            raise CorpusError(msg + "; pass on_missing_audio='skip' to leave them out")
        log.warning("%s; left out", msg)
        files = [f for f, e in zip(files, exists) if e]
        if not files:
            raise CorpusError(f"{where}: no media file of the database exists")
    wanted = set(files)

    # ---- filewise columns: id, speaker, gender, labels
    columns = _filewise_columns(db, where)
    ids = _ids(files, columns.get("id"), where)
    speaker_col = columns.get("speaker") or next(
        (c for c in columns.values() if c["scheme"] == "speaker"), None)
    speakers = {f: Path(f).stem for f in files}
    if speaker_col is not None:
        values = speaker_col["values"]
        given = {f: str(_py(values.loc[f])) for f in files if f in values.index}
        if len(given) < len(files):
            log.info("%s: %d file(s) have no speaker; their file name stem is used", where,
                     len(files) - len(given))
        speakers.update(given)
    genders = _genders(db, files, columns)
    partitions = _partitions(db, files, columns, where)
    label_cols = [c for c in columns if c not in RESERVED and columns[c] is not speaker_col]

    # ---- traces
    traces: dict[str, dict[str, Trace]] = {f: {} for f in files}
    golds: dict[str, dict[str, Trace]] = {f: {} for f in files}
    for dim, cols in dim_columns.items():
        rater_names = [n for _, _, n, g in cols if not g]
        for gold, out, label in ((False, traces, dim), (True, golds, f"{dim} gold")):
            mine = [(t, c, n) for t, c, n, g in cols if g == gold]
            if not mine:
                continue
            frame, tables = _joined(db, mine)
            for f, sub in frame.groupby(level="file", sort=False):
                f = str(f)
                if f not in wanted:
                    continue
                w = f"{where} table {tables} file {f} ({label})"
                tr = _trace_of(sub, [n for *_, n in mine], [GOLD] if gold else None, w,
                               times=times, on_nan=on_nan, on_ragged=on_ragged,
                               step_tolerance=step_tolerance)
                if tr is None:
                    continue
                if not gold and tr.n_raters < min_raters:
                    raise CorpusError(f"{w}: {tr.n_raters} rater(s) ({', '.join(tr.raters)}); "
                                      f"{min_raters} needed")
                out[f][dim] = tr
        unrated = [f for f in files if dim not in traces[f]]
        if unrated and rater_names:
            msg = (f"{where}: {len(unrated)} of {len(files)} file(s) have no {dim} segments, "
                   f"e.g. {unrated[:3]}")
            if dimensions is not None:
                raise CorpusError(msg)
            log.warning("%s; they have no %s trace", msg, dim)

    recordings = []
    for f in files:
        try:
            recordings.append(Recording(
                id=ids[f], audio=root / f, speaker=speakers[f], gender=genders.get(f),
                partition=partitions.get(f), traces=traces[f], gold=golds[f],
                labels={c: _py(columns[c]["values"].get(f)) for c in label_cols},
            ))
        except CorpusError as exc:
            raise CorpusError(f"{where}: file {f}: {exc}") from None
    return Corpus(_safe_name(name or db.name), recordings, root)


def _ids(files: list[str], id_col: dict | None, where: str) -> dict[str, str]:
    """Recording ids: a filewise ``id`` column covering every file, else stems (or paths)."""
    if id_col is not None:
        values = id_col["values"]
        given = {f: str(_py(values.loc[f])) for f in files if f in values.index}
        if len(given) == len(files) and len(set(given.values())) == len(files):
            return given
        log.info("%s: column 'id' does not name every file once; ids are file names", where)
    stems = [Path(f).stem for f in files]
    if len(set(stems)) == len(stems):
        return dict(zip(files, stems))
    return {f: Path(f).with_suffix("").as_posix() for f in files}


def _genders(db, files: list[str], columns: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    if "gender" in columns:
        values = columns["gender"]["values"]
        out = {f: str(_py(values.loc[f])) for f in files if f in values.index}
    if len(out) < len(files):          # the speaker scheme may map speakers to a gender
        for tid, table in db.tables.items():
            if not table.is_filewise:
                continue
            for cid, col in table.columns.items():
                if cid != "speaker" and col.scheme_id != "speaker":
                    continue
                try:
                    mapped = col.get(map="gender")
                except Exception:    # no gender in the scheme's labels
                    continue
                for f, g in mapped.items():
                    if str(f) not in out and _py(g) is not None:
                        out[str(f)] = str(g)
    return out


def _partitions(db, files: list[str], columns: dict, where: str) -> dict[str, str]:
    """Partition per file from the tables' splits (else a filewise ``partition`` column)."""
    out: dict[str, str] = {}
    source: dict[str, str] = {}
    for tid, table in db.tables.items():
        if table.split_id is None:
            continue
        split = db.splits[table.split_id] if table.split_id in db.splits else None
        part = _partition_of(table.split_id, split.type if split is not None else None)
        for f in pd.unique(np.asarray(table.files, dtype=object)):
            f = str(f)
            if f in out and out[f] != part:
                raise CorpusError(f"{where}: file {f} is in split {source[f]} and in split "
                                  f"{table.split_id!r} (table {tid!r})")
            if f not in out:
                out[f] = part
                source[f] = f"{table.split_id!r} (table {tid!r})"
    if "partition" in columns:
        values = columns["partition"]["values"]
        for f in files:
            if f not in values.index:
                continue
            part = _partition_of(str(_py(values.loc[f])), None)
            if f in out and out[f] != part:
                raise CorpusError(f"{where}: file {f} is in split {source[f]} but its "
                                  f"'partition' column says {part!r}")
            out.setdefault(f, part)
    return out


# ================================================================ writing
def _check_regular(trace: Trace, where: str, step_tolerance: float) -> None:
    if trace.times.size < 2:
        raise CorpusError(f"{where}: a one-sample trace cannot be written as label frames")
    steps = np.diff(trace.times)
    step = float(np.median(steps))
    if np.any(np.abs(steps - step) > step_tolerance * step):
        raise CorpusError(
            f"{where}: trace steps vary from {steps.min():.4g} to {steps.max():.4g} s; "
            "audformat label frames need one fixed step: resample it first "
            "(contaffect.labels.resample)")


def _segments(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample times (s) -> segment starts and ends in ns: [t_k, t_{k+1}), the last one step."""
    starts = np.round(np.asarray(times, dtype=np.float64) * 1e9).astype(np.int64)
    step = int(np.median(np.diff(starts)))
    ends = np.concatenate([starts[1:], [starts[-1] + step]])
    return starts, ends


def _label_scheme(values: list) -> tuple[str, list | None]:
    """audformat dtype (and labels) for one utterance label's non-missing values."""
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return "bool", None
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                      for v in values):
        return "int", None
    if values and all(isinstance(v, (int, float, np.integer, np.floating))
                      and not isinstance(v, (bool, np.bool_)) for v in values):
        return "float", None
    return "str", sorted({str(v) for v in values})


def _media_paths(corpus: Corpus, folder: Path) -> tuple[dict[str, str], list[tuple[Path, Path]]]:
    """Recording id -> file in the db index, and the (source, target) copies to make."""
    root = folder.resolve()
    files, copies = {}, []
    for rec in corpus:
        src = Path(rec.audio)
        if not src.is_file():
            raise CorpusError(f"corpus {corpus.name!r}: audio of {rec.id!r} does not exist: {src}")
        try:
            files[rec.id] = src.resolve().relative_to(root).as_posix()
            continue
        except ValueError:
            pass
        target = folder / AUDIO_DIR / f"{rec.id}{src.suffix}"
        if target.exists() and not filecmp.cmp(src, target, shallow=False):
            raise CorpusError(f"{target} exists with other content than {src}; write to a new "
                              "folder")
        files[rec.id] = target.relative_to(folder).as_posix()
        copies.append((src, target))
    dup = [f for f, k in Counter(files.values()).items() if k > 1]
    if dup:
        raise CorpusError(f"corpus {corpus.name!r}: two recordings share the audio file {dup[0]}")
    return files, copies


def write_audformat(
    corpus: Corpus,
    folder: str | Path,
    *,
    name: str | None = None,
    step_tolerance: float = 0.01,
) -> Path:
    """Write a corpus as an audformat database that :func:`load_audformat` reads back.

    Media: a recording whose audio sits under ``folder`` is referenced where it
    is (relative to the database root); any other is **copied** to
    ``<folder>/audio/<id><suffix>`` (a copy, not a hard link: a link would tie
    the two trees together, and cannot cross file systems). Tables:

    - ``files`` (filewise): ``id``, ``speaker``, ``gender`` (if known),
      ``partition``, and one column per utterance label;
    - ``files.<split>`` (filewise, index only) for each partition, carrying the
      audformat split (``train``, ``dev`` for contaffect's ``devel``, ``test``);
    - one segmented table per dimension (``arousal``, ``valence``, ...): one
      column per rater (scheme = the dimension, rater = the column), each trace
      sample a segment ``[t_k, t_{k+1})`` (the last one median step long); a
      shipped gold standard is a column ``gold`` with a rater ``gold`` of type
      ``vote`` (in a table ``<dim>.gold`` when its times differ from the raters').

    Parameters
    ----------
    corpus
        Any corpus.
    folder
        The database folder (created; must not hold a ``db.yaml`` yet).
    name
        Database name; default the corpus name.
    step_tolerance
        Traces whose steps differ by more than this fraction of their median
        step are refused (audformat label frames have one fixed step).

    Returns
    -------
    Path
        ``folder``.
    """
    audformat = _audformat()
    folder = Path(folder)
    if (folder / "db.yaml").exists():
        raise CorpusError(f"{folder} already holds an audformat database (db.yaml); write to a "
                          "new folder or remove it")
    if len(corpus) == 0:
        raise CorpusError(f"corpus {corpus.name!r} has no recordings to write")
    reserved = [k for r in corpus for k in r.labels if k in RESERVED]
    if reserved:
        raise CorpusError(f"corpus {corpus.name!r}: label {reserved[0]!r} clashes with the "
                          f"files table's own column of that name")
    # ---- every check before any file is written
    dims = list(dict.fromkeys(d for r in corpus for d in [*r.traces, *r.gold]))
    for rec in corpus:
        for dim, tr in rec.traces.items():
            _check_regular(tr, f"{corpus.name}/{rec.id} {dim}", step_tolerance)
            if GOLD in tr.raters:
                raise CorpusError(f"{corpus.name}/{rec.id} {dim}: a rater is named {GOLD!r}, "
                                  "the gold standard's column; rename it")
        for dim, tr in rec.gold.items():
            _check_regular(tr, f"{corpus.name}/{rec.id} {dim} gold", step_tolerance)
    files, copies = _media_paths(corpus, folder)

    db = audformat.Database(
        _safe_name(name or corpus.name),
        description=f"contaffect corpus {corpus.name!r}: trace samples are segment starts",
        meta={"contaffect": {"trace_times": "start"}})
    suffixes = {Path(f).suffix.lstrip(".").lower() for f in files.values()}
    db.media[MEDIA_ID] = audformat.Media("audio", format=suffixes.pop() if len(suffixes) == 1
                                         else None)
    recs = list(corpus)
    index = audformat.filewise_index([files[r.id] for r in recs])

    # ---- files table
    db.schemes["speaker"] = audformat.Scheme("str", labels=corpus.speakers)
    db["files"] = audformat.Table(index, media_id=MEDIA_ID,
                                  description="one row per recording")
    db["files"]["id"] = audformat.Column(description="contaffect recording id")
    db["files"]["id"].set([r.id for r in recs])
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set([r.speaker for r in recs])
    genders = sorted({r.gender for r in recs if r.gender is not None})
    if genders:
        db.schemes["gender"] = audformat.Scheme("str", labels=genders)
        db["files"]["gender"] = audformat.Column(scheme_id="gender")
        db["files"]["gender"].set([r.gender for r in recs])
    parts = sorted({r.partition for r in recs if r.partition is not None})
    if parts:
        db.schemes["partition"] = audformat.Scheme("str", labels=parts)
        db["files"]["partition"] = audformat.Column(
            scheme_id="partition", description="contaffect partition (also as splits)")
        db["files"]["partition"].set([r.partition for r in recs])
    for key in dict.fromkeys(k for r in recs for k in r.labels):
        values = [r.labels.get(key) for r in recs]
        dtype, labels = _label_scheme([v for v in values if v is not None])
        scheme_id = key if key not in dims and key not in db.schemes else f"{key}.label"
        db.schemes[scheme_id] = audformat.Scheme(dtype, labels=labels)
        db["files"][key] = audformat.Column(scheme_id=scheme_id)
        if dtype == "str":
            values = [None if v is None else str(v) for v in values]
        db["files"][key].set(values)

    # ---- splits
    for part in parts:
        split_id = PARTITION_TO_SPLIT.get(part, part)
        split_type = split_id if split_id in ("train", "dev", "test") else "other"
        db.splits[split_id] = audformat.Split(split_type, description=f"contaffect {part!r}")
        db[f"files.{split_id}"] = audformat.Table(
            audformat.filewise_index([files[r.id] for r in recs if r.partition == part]),
            split_id=split_id, media_id=MEDIA_ID)

    # ---- one segmented table per dimension
    for dim in dims:
        db.schemes[dim] = audformat.Scheme("float", description=f"time-continuous {dim}")
        with_trace = [r for r in recs if dim in r.traces]
        with_gold = [r for r in recs if dim in r.gold]
        raters = list(dict.fromkeys(x for r in with_trace for x in r.traces[dim].raters))
        for rater in raters:
            if rater not in db.raters:
                db.raters[rater] = audformat.Rater("human")
        if with_gold and GOLD not in db.raters:
            db.raters[GOLD] = audformat.Rater(
                "vote", description="gold standard shipped with the corpus")
        same_grid = all(np.array_equal(r.traces[dim].times, r.gold[dim].times)
                        for r in with_gold if dim in r.traces)
        tables = {dim: (with_trace + [r for r in with_gold if dim not in r.traces]
                        if same_grid else with_trace,
                        raters, same_grid)}
        if with_gold and not same_grid:
            tables[f"{dim}.gold"] = (with_gold, [], True)
        for tid, (members, cols, gold_here) in tables.items():
            if not members:
                continue
            seg_files, starts, ends = [], [], []
            blocks = {c: [] for c in cols}
            gold_block = []
            for r in members:
                base = r.traces[dim] if (dim in r.traces and cols) else r.gold[dim]
                s, e = _segments(base.times)
                seg_files += [files[r.id]] * s.size
                starts.append(s)
                ends.append(e)
                for c in cols:
                    if dim in r.traces and c in r.traces[dim].raters:
                        blocks[c].append(r.traces[dim].values[:, r.traces[dim].raters.index(c)])
                    else:
                        blocks[c].append(np.full(s.size, np.nan))
                if gold_here and with_gold:
                    gold_block.append(r.gold[dim].values[:, 0] if dim in r.gold
                                      else np.full(s.size, np.nan))
            seg_index = audformat.segmented_index(
                seg_files, pd.to_timedelta(np.concatenate(starts), unit="ns"),
                pd.to_timedelta(np.concatenate(ends), unit="ns"))
            db[tid] = audformat.Table(seg_index, media_id=MEDIA_ID,
                                      description=f"time-continuous {dim}, one column per rater")
            for c in cols:
                db[tid][c] = audformat.Column(scheme_id=dim, rater_id=c)
                db[tid][c].set(np.concatenate(blocks[c]))
            if gold_here and with_gold:
                db[tid][GOLD] = audformat.Column(scheme_id=dim, rater_id=GOLD,
                                                 description="gold standard")
                db[tid][GOLD].set(np.concatenate(gold_block))

    # ---- write: audio first, then the header and tables
    for src, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copy2(src, target)
    folder.mkdir(parents=True, exist_ok=True)
    db.save(str(folder), storage_format="parquet")
    return folder


# ================================================================ predictions
def frame_table(
    predictions: Mapping[str, np.ndarray],
    rate: float,
    files: Mapping[str, str],
    dims: Sequence[str] | str,
) -> pd.DataFrame:
    """Frame predictions as a segmented table (audinterface's index: file, start, end).

    Parameters
    ----------
    predictions
        Recording id -> frame predictions, shape ``(n,)`` or ``(n, k)``.
    rate
        Frame rate in Hz: frame ``j`` spans ``[j / rate, (j + 1) / rate)``.
    files
        Recording id -> the file to name in the index (e.g. ``str(rec.audio)``,
        or a path relative to a database root).
    dims
        Column names, one per prediction column (``k`` of them).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``file``, ``start``, ``end`` (timedeltas), one float column per dim.
    """
    audformat = _audformat()
    dims = [dims] if isinstance(dims, str) else [str(d) for d in dims]
    if not rate or rate <= 0:
        raise CorpusError(f"frame_table: rate must be positive, got {rate}")
    missing = [k for k in predictions if k not in files]
    if missing:
        raise CorpusError(f"frame_table: no file for recording(s) {missing[:5]} "
                          f"({len(missing)} of {len(predictions)})")
    seg_files, starts, blocks = [], [], []
    for rec_id, values in predictions.items():
        values = np.asarray(values, dtype=np.float64)
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2 or values.shape[1] != len(dims):
            raise CorpusError(f"frame_table: predictions of {rec_id!r} have shape "
                              f"{np.shape(predictions[rec_id])}, expected (n, {len(dims)}) for "
                              f"dims {dims}")
        n = values.shape[0]
        seg_files += [str(files[rec_id])] * n
        starts.append(np.arange(n + 1, dtype=np.float64))
        blocks.append(values)
    # start and end of frame j, in ns, from the same rounding so that segments tile exactly
    ns = [np.round(s * 1e9 / rate).astype(np.int64) for s in starts]
    s_ns = np.concatenate([a[:-1] for a in ns]) if ns else np.zeros(0, np.int64)
    e_ns = np.concatenate([a[1:] for a in ns]) if ns else np.zeros(0, np.int64)
    index = audformat.segmented_index(seg_files, pd.to_timedelta(s_ns, unit="ns"),
                                      pd.to_timedelta(e_ns, unit="ns"))
    values = np.vstack(blocks) if blocks else np.zeros((0, len(dims)))
    return pd.DataFrame(values, index=index, columns=dims)


def write_predictions(
    predictions: pd.DataFrame,
    folder: str | Path,
    *,
    name: str = "predictions",
    dimensions: Sequence[str] | None = None,
) -> Path:
    """Write a prediction table as an audformat database with one table ``name``.

    Parameters
    ----------
    predictions
        Indexed like audinterface: a segmented index (``file``, ``start``,
        ``end`` as timedeltas; e.g. from :func:`frame_table`) for frame
        predictions, or a filewise index (``file``) for utterance-level
        predictions or scores; one column per dimension or class.
    folder
        The database folder (created; must not hold a ``db.yaml`` yet).
    name
        Database name, table id and rater id (a rater of type ``machine``).
    dimensions
        The columns to write (default: all). Each column gets a scheme of its
        own name: float for numbers, str (with the values as labels) otherwise.

    Returns
    -------
    Path
        ``folder``; read the table back with :func:`read_predictions`.
    """
    audformat = _audformat()
    folder = Path(folder)
    if not isinstance(predictions, pd.DataFrame):
        raise CorpusError(f"write_predictions: expected a pandas DataFrame, got "
                          f"{type(predictions).__name__}")
    if (folder / "db.yaml").exists():
        raise CorpusError(f"{folder} already holds an audformat database (db.yaml); write to a "
                          "new folder or remove it")
    index = predictions.index
    if not (audformat.is_segmented_index(index) or audformat.is_filewise_index(index)):
        raise CorpusError(
            f"write_predictions: the index must be audformat's: 'file' (utterances) or "
            f"'file', 'start', 'end' as timedeltas (frames; see frame_table), got levels "
            f"{list(index.names)}")
    if index.has_duplicates:
        raise CorpusError("write_predictions: the index names a file or segment twice")
    columns = [str(c) for c in predictions.columns]
    if dimensions is not None:
        missing = [d for d in dimensions if str(d) not in columns]
        if missing:
            raise CorpusError(f"write_predictions: no column {missing} (columns: {columns})")
        columns = [str(d) for d in dimensions]
    if not columns:
        raise CorpusError("write_predictions: the table has no prediction column")
    frame = predictions.set_axis([str(c) for c in predictions.columns], axis=1)
    db = audformat.Database(_safe_name(name), source="contaffect",
                            description="predictions written by contaffect")
    db.raters[name] = audformat.Rater("machine", description="contaffect model")
    db[name] = audformat.Table(frame.index)
    for col in columns:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series):
            scheme = audformat.Scheme("bool")
        elif pd.api.types.is_numeric_dtype(series):
            scheme = audformat.Scheme("float")
            series = series.astype(np.float64)
        else:
            scheme = audformat.Scheme("str", labels=sorted({str(v) for v in series.dropna()}))
            series = series.map(lambda v: None if _py(v) is None else str(v))
        db.schemes[col] = scheme
        db[name][col] = audformat.Column(scheme_id=col, rater_id=name)
        db[name][col].set(series.to_numpy())
    folder.mkdir(parents=True, exist_ok=True)
    db.save(str(folder), storage_format="parquet")
    return folder


def read_predictions(folder: str | Path, *, name: str = "predictions") -> pd.DataFrame:
    """Read back a table written by :func:`write_predictions` (or any audformat table)."""
    folder = Path(folder)
    if not (folder / "db.yaml").is_file():
        raise CorpusError(f"{folder} has no db.yaml: not an audformat database")
    audformat = _audformat()
    try:
        db = audformat.Database.load(str(folder), load_data=True)
    except Exception as exc:
        raise CorpusError(f"{folder / 'db.yaml'}: audformat cannot load it: "
                          f"{_one_line(exc)}") from None
    if name not in db.tables:
        raise CorpusError(f"{folder}: no table {name!r} (tables: {sorted(db.tables)})")
    return db[name].get()
