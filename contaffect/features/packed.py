"""Per-recording frame matrices packed as row ranges of one block, and finding that block again.

A corpus' 25-Hz features are a dict ``recording id -> (n_i, d)``. Training
needs them as one ``(sum n_i, d)`` matrix indexed by windows
(:class:`~contaffect.models.train.SequenceSet`). Stacking them doubles the
memory (47 MB per hour of audio for the ComParE LLDs); packing them once into
one block and handing out row views lets the stacked matrix be a view of the
same memory. Cuts of the views (``v[:n]``, as :func:`prepare_corpus` makes
when a trace is shorter than its audio) stay inside the block, and
:func:`packed_span` finds the block and each view's first row again; the rows
a cut drops are gaps that no window reads.
"""

from __future__ import annotations

from typing import Callable, MutableMapping, Sequence

import numpy as np


def pack(
    arrays: MutableMapping[str, np.ndarray],
    transform: Callable[[str, np.ndarray], np.ndarray] | None = None,
    *,
    consume: bool = False,
) -> dict[str, np.ndarray]:
    """Copy ``(n_i, d)`` matrices, in order, into one C-contiguous float32 block.

    Parameters
    ----------
    arrays
        Key -> ``(n_i, d)``; every ``d`` equal.
    transform
        ``transform(key, array)`` -> the ``(n_i, d)`` values to store (for
        example the z-normalised frames), applied one array at a time.
    consume
        Remove each array from ``arrays`` once it is copied, so that the
        inputs and the block are never both whole in memory.

    Returns
    -------
    dict
        Key -> row view of the block (``np.shares_memory`` among all of them).
    """
    keys = list(arrays)
    if not keys:
        return {}
    shapes = {k: arrays[k].shape for k in keys}
    widths = {s[1] if len(s) == 2 else None for s in shapes.values()}
    if len(widths) != 1 or None in widths:
        raise ValueError(f"pack needs (n, d) arrays of one width, got shapes "
                         f"{sorted(set(shapes.values()))[:4]}")
    bounds = np.concatenate([[0], np.cumsum([shapes[k][0] for k in keys])]).astype(np.int64)
    block = np.empty((int(bounds[-1]), widths.pop()), dtype=np.float32)
    out = {}
    for i, k in enumerate(keys):
        a = arrays.pop(k) if consume else arrays[k]
        v = a if transform is None else transform(k, a)
        if v.shape != shapes[k]:
            raise ValueError(f"{k}: transform changed the shape {shapes[k]} to {v.shape}")
        block[bounds[i]:bounds[i + 1]] = v
        out[k] = block[bounds[i]:bounds[i + 1]]
        del a, v
    return out


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def packed_span(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The one block that ``arrays`` are ordered row ranges of, or None.

    Parameters
    ----------
    arrays
        ``(n_i, d)`` float32 arrays, in the order they are to be stacked.

    Returns
    -------
    (block, starts) or None
        ``block``: a view of the owning array from the first array's first row
        to the last one's last row; ``starts[i]``: the row of ``block`` where
        ``arrays[i]`` begins. None unless every array is a C-contiguous
        float32 row range of the same 2-D owner, each starting at or after the
        previous one's end (then stacking them needs a copy).
    """
    if not arrays:
        return None
    owner = arrays[0].base if arrays[0].base is not None else arrays[0]
    if not (isinstance(owner, np.ndarray) and owner.ndim == 2 and owner.dtype == np.float32
            and owner.flags.c_contiguous and owner.shape[0] > 0):
        return None
    row = owner.strides[0]
    origin, starts, end = _address(owner), [], 0
    for a in arrays:
        base = a.base if a.base is not None else a
        if (base is not owner or a.ndim != 2 or a.dtype != np.float32 or a.shape[1] != owner.shape[1]
                or not a.flags.c_contiguous):
            return None
        offset, rest = divmod(_address(a) - origin, row)
        if rest or offset < end or offset + a.shape[0] > owner.shape[0]:
            return None
        starts.append(offset)
        end = offset + a.shape[0]
    first = starts[0]
    return owner[first:end], np.asarray(starts, dtype=np.int64) - first
