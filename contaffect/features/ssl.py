r"""Self-supervised speech representations (wav2vec 2.0, HuBERT, WavLM) as store feature sets.

:func:`ssl_feature_set` turns a local model folder and the ``[ssl]`` options
into a :class:`~contaffect.features.smile.FeatureSet` whose store id hashes
the weights (SHA-256 of ``config.json`` and every weight file) and every
option that changes the numbers (layers, how they combine, chunking, input
normalisation); the folder's path is not in the id, so a moved folder keeps
its store entries. :class:`SSLExtractor` runs the model through the
``transformers`` model classes (the optional extra ``contaffect[ssl]``),
offline: ``HF_HUB_OFFLINE`` and ``local_files_only`` are set, and nothing is
fetched.

Frames and times. The CNN encoder of the wav2vec 2.0 family has a receptive
field of :math:`r = 400` samples and a stride of :math:`h = 320` (25 ms every
20 ms at 16 kHz, 50 Hz). Frame :math:`k` covers samples
:math:`[kh, kh + r)`; its time is :math:`k h / 16000`, the start of its hop,
as for openSMILE's LLDs (so :func:`~contaffect.features.frames.align_to_grid`
treats both alike). A signal of :math:`n` samples gives
:math:`\lfloor (n - r) / h \rfloor + 1` frames (each conv layer:
:math:`\lfloor (n - k_i) / s_i \rfloor + 1`).

Chunking. A recording longer than ``chunk_s`` is encoded in chunks of
:math:`L` samples that start every :math:`L - O` samples (both multiples of
:math:`h`; :math:`O` is ``overlap_s``); the last chunk is full length and ends
at the recording's end. The model's memory is thus bounded by one batch of
chunks whatever the recording's length (the frames themselves grow with it).
Consecutive chunks hand over in the middle of their overlap, so each frame is
taken from the chunk in which it lies farthest from an edge, at least
:math:`O / 2` from it. The result has exactly the unchunked frame count;
values differ from the unchunked ones only through the attention's narrower
context (measured in the tests and in benchmarks/ssl_extraction.py).

Layers. ``hidden_states[0]`` is the transformer's input and
``hidden_states[k]`` the residual stream after layer ``k``; in the
stable-layer-norm encoders of the large models only the last one has the
final layer norm applied, so ``mean`` mixes scales there (``layers = [-1]``
or ``stack`` avoid it).

Input normalisation follows the folder's ``preprocessor_config.json``
(``do_normalize``: zero mean, unit variance over the whole recording, before
chunking; true when the file is absent, the wav2vec 2.0 feature extractor's
default).

Batching. Chunks of equal length share a forward pass (all chunks of a long
recording but the last). Chunks of different lengths are padded into one
batch only for models whose CNN encoder normalises per frame
(``feat_extract_norm = "layer"``) and thus support an attention mask; with
group normalisation (wav2vec 2.0 / HuBERT base) padding would change the
statistics of every frame, so those run one length at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from contaffect.corpus.identity import file_digest
from contaffect.errors import ConfigError, FeatureError
from contaffect.features.audio import TARGET_SR
from contaffect.features.frames import Frames
from contaffect.features.smile import FeatureSet
from contaffect.features.ssl_config import (SSLConfig, check_model, locate_weights,
                                             resolve_layers)

log = logging.getLogger(__name__)

#: The extractor of the SSL sets.
SSL_EXTRACTOR = "contaffect.features.ssl:SSLExtractor"
#: Bumped when the extractor's numbers change, so that stores extract again.
REVISION = 1
#: Parameters the checkpoint may lack without harm (the pre-training mask embedding).
_HARMLESS_MISSING = ("masked_spec_embed",)

def weights_fingerprint(folder: str | Path) -> str:
    """SHA-256 over ``config.json`` and every weight file of a model folder.

    Each file's digest is cached in the process by (path, size, mtime), so a
    run hashes a 360 MB checkpoint once (about 1 s).
    """
    folder, _ = locate_weights(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and (
        p.name == "config.json" or p.suffix in (".safetensors", ".bin")))
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        h.update(file_digest(p).encode())
    return h.hexdigest()


def model_config(folder: str | Path) -> dict:
    """``config.json`` of a model folder as a dict (no torch)."""
    folder, _ = locate_weights(folder)
    return json.loads((folder / "config.json").read_text())


def _geometry(conf: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    kernels = tuple(int(k) for k in conf.get("conv_kernel", (10, 3, 3, 3, 3, 2, 2)))
    strides = tuple(int(s) for s in conf.get("conv_stride", (5, 2, 2, 2, 2, 2, 2)))
    return kernels, strides


def n_frames(n_samples: int, kernels: Sequence[int], strides: Sequence[int]) -> int:
    r"""Frames the CNN encoder gives for ``n_samples``: :math:`\lfloor (n - k_i)/s_i \rfloor + 1` per layer."""
    n = int(n_samples)
    for k, s in zip(kernels, strides):
        if n < k:
            return 0
        n = (n - k) // s + 1
    return n


def _do_normalize(folder: Path) -> bool:
    pre = folder / "preprocessor_config.json"
    if not pre.is_file():
        return True
    try:
        return bool(json.loads(pre.read_text()).get("do_normalize", True))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{pre}: not readable ({exc})") from None


def ssl_feature_set(model: str | Path, ssl: SSLConfig | None = None) -> FeatureSet:
    """The store feature set of a model (a key of ``[ssl] models`` or a folder) and options.

    Parameters
    ----------
    model
        ``<model>`` of ``ssl:<model>``: a name in ``ssl.models`` or a folder.
    ssl
        The ``[ssl]`` options (defaults when None).
    """
    ssl = ssl or SSLConfig()
    ssl.validate()
    folder = check_model(ssl.folder(str(model)), ssl)     # layers and weights fit it
    conf = json.loads((folder / "config.json").read_text())
    model_type = conf["model_type"]
    layers = resolve_layers(ssl.layers, int(conf.get("num_hidden_layers", 12)) + 1)
    width = int(conf.get("hidden_size", 768))
    kernels, strides = _geometry(conf)
    hop = float(np.prod(strides)) / TARGET_SR
    n_features = width * (len(layers) if ssl.combine == "stack" else 1)
    weights: tuple[float, ...] = ()
    if ssl.combine == "weighted":
        total = float(sum(ssl.weights))
        pairs = sorted(zip(layers, (float(w) / total for w in ssl.weights)))
        layers, weights = tuple(p[0] for p in pairs), tuple(round(p[1], 12) for p in pairs)
    elif ssl.combine == "mean":
        layers = tuple(sorted(layers))       # the order of a mean does not change it
    hop_samples = int(np.prod(strides))
    chunk = max(hop_samples, int(round(ssl.chunk_s * TARGET_SR)) // hop_samples * hop_samples)
    overlap = int(round(ssl.overlap_s * TARGET_SR)) // hop_samples * hop_samples
    # the id hashes what changes the numbers, normalised: the same frames, the same id
    params = (("revision", REVISION), ("weights_sha256", weights_fingerprint(folder)),
              ("model_type", model_type), ("layers", list(layers)), ("combine", ssl.combine),
              ("layer_weights", list(weights)), ("chunk_samples", chunk),
              ("overlap_samples", overlap), ("do_normalize", _do_normalize(folder)),
              ("n_layers", len(layers) if ssl.combine == "stack" else 1))
    what = {"mean": f"mean of layers {_span(layers)}", "stack": f"layers {_span(layers)} stacked",
            "weighted": f"weighted sum of layers {_span(layers)}"}[ssl.combine]
    name = "ssl_" + model_type.replace("-", "_")
    return FeatureSet(name, "lld", n_features, hop,
                      f"{model_type} {Path(folder).name}: {what}, {width} wide, "
                      f"{1 / hop:g} Hz", SSL_EXTRACTOR, params, source=str(folder),
                      runtime=(("device", ssl.device), ("batch_size", int(ssl.batch_size))))


def _span(layers: tuple[int, ...]) -> str:
    if len(layers) > 2 and layers == tuple(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}-{layers[-1]}"
    return ",".join(map(str, layers))


def chunk_plan(n_samples: int, chunk: int, overlap: int, hop: int) -> list[tuple[int, int]]:
    """``(start, end)`` samples of each chunk: length ``chunk``, every ``chunk - overlap``.

    ``chunk`` and ``overlap`` are rounded down to multiples of ``hop``. The
    last chunk ends at the recording's end and is full length too (it starts
    at ``n - chunk`` rounded down to the hop), so that no frame is encoded
    with less context than ``overlap``; it may overlap its neighbour by more
    than ``overlap``. One chunk when the recording fits.
    """
    chunk = max(hop, chunk // hop * hop)
    overlap = overlap // hop * hop
    if n_samples <= chunk:
        return [(0, n_samples)]
    last = (n_samples - chunk) // hop * hop
    starts = [s for s in range(0, n_samples - chunk, chunk - overlap) if s < last]
    return [(s, s + chunk) for s in starts] + [(last, n_samples)]


class SSLExtractor:
    """Encode 16 kHz signals with a local SSL model (see the module docstring).

    Parameters
    ----------
    feature_set
        From :func:`ssl_feature_set` (its ``source`` is the folder).
    device
        ``auto``, ``cpu`` or ``cuda`` (not part of the store id).
    batch_size
        Chunks per forward pass.

    Attributes
    ----------
    names
        Column names, ``<type>_<j>`` or ``<type>_l<layer>_<j>`` when stacked.
    max_workers
        1: the model runs one batch at a time (torch uses every core itself);
        extraction hands it files in groups of ``files_per_call`` instead.
    """

    max_workers = 1

    def __init__(self, feature_set: FeatureSet, *, device: str = "auto",
                 batch_size: int = 8) -> None:
        from contaffect.devices import resolve_device

        self.feature_set = feature_set
        opts = feature_set.options
        if feature_set.extractor != SSL_EXTRACTOR or not feature_set.source:
            raise ConfigError(f"{feature_set.name} is not an SSL feature set; build it with "
                              "ssl_feature_set")
        self.folder, _ = locate_weights(feature_set.source)
        if weights_fingerprint(self.folder) != opts["weights_sha256"]:
            raise FeatureError(f"{self.folder}: the weights changed since the feature set was "
                               "made; build it again (ssl_feature_set)")
        self.layers = tuple(opts["layers"])
        self.combine = opts["combine"]
        w = np.asarray(opts["layer_weights"], dtype=np.float64)
        self.layer_weights = w / w.sum() if w.size else None
        # a task's files are held in memory together: about batch_size chunks' worth
        self.seconds_per_call = float(batch_size) * opts["chunk_samples"] / TARGET_SR
        self.batch_size = int(batch_size)
        self.files_per_call = self.batch_size
        self.device = resolve_device(device)
        self.model = _load_model(self.folder).to(self.device)
        conf = self.model.config
        self.kernels, self.strides = tuple(conf.conv_kernel), tuple(conf.conv_stride)
        self.hop_samples = int(np.prod(self.strides))
        self.padded_batches = getattr(conf, "feat_extract_norm", "group") == "layer"
        width = int(conf.hidden_size)
        prefix = opts["model_type"].replace("-", "_")
        if self.combine == "stack":
            self.names = tuple(f"{prefix}_l{layer}_{j}" for layer in self.layers
                               for j in range(width))
        else:
            self.names = tuple(f"{prefix}_{j}" for j in range(width))
        if len(self.names) != feature_set.n_features:
            raise FeatureError(f"{self.folder}: the model gives {len(self.names)} features, the "
                               f"feature set expects {feature_set.n_features}")

    # ------------------------------------------------------------------ public
    def __call__(self, signal: np.ndarray, sampling_rate: int = TARGET_SR) -> Frames:
        """Frames of one signal (chunked when long)."""
        return self.extract_batch([signal], sampling_rate)[0]

    def extract_batch(self, signals: Sequence[np.ndarray], sampling_rate: int = TARGET_SR
                      ) -> list[Frames]:
        """Frames of several signals, their chunks batched (see the module docstring)."""
        if sampling_rate != TARGET_SR:
            raise FeatureError(f"extractor expects {TARGET_SR} Hz input, got {sampling_rate}")
        opts = self.feature_set.options
        chunk, overlap = int(opts["chunk_samples"]), int(opts["overlap_samples"])
        receptive = n_frames_receptive(self.kernels, self.strides)
        jobs = []                                  # (signal index, chunk index, samples)
        plans = []
        for i, sig in enumerate(signals):
            x = np.asarray(sig, dtype=np.float32).reshape(-1)
            if x.size < receptive:
                raise FeatureError(f"a {x.size / TARGET_SR * 1000:.1f} ms signal is shorter than "
                                   f"the model's {receptive / TARGET_SR * 1000:.0f} ms receptive "
                                   "field")
            if not np.all(np.isfinite(x)):
                raise FeatureError("the signal holds NaN or infinite samples")
            if opts["do_normalize"]:
                x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
            plan = chunk_plan(x.size, chunk, overlap, self.hop_samples)
            plans.append((x.size, plan))
            jobs += [(i, c, x[s:e]) for c, (s, e) in enumerate(plan)]
        encoded = self._encode([j[2] for j in jobs])
        per = [dict() for _ in signals]
        for (i, c, _), feats in zip(jobs, encoded):
            per[i][c] = feats
        return [self._stitch(n, plan, per[i], overlap) for i, (n, plan) in enumerate(plans)]

    # ------------------------------------------------------------------ internals
    def _batches(self, lengths: list[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda k: (lengths[k], k))
        out: list[list[int]] = []
        for k in order:
            if out and len(out[-1]) < self.batch_size and (
                    self.padded_batches or lengths[out[-1][0]] == lengths[k]):
                out[-1].append(k)
            else:
                out.append([k])
        return out

    def _encode(self, chunks: list[np.ndarray]) -> list[np.ndarray]:
        """Combined hidden states ``(frames, d)`` of each chunk."""
        import torch

        out: list = [None] * len(chunks)
        lengths = [c.size for c in chunks]
        with torch.inference_mode():
            for batch in self._batches(lengths):
                T = max(lengths[k] for k in batch)
                x = np.zeros((len(batch), T), dtype=np.float32)
                mask = np.zeros((len(batch), T), dtype=np.int64)
                for r, k in enumerate(batch):
                    x[r, :lengths[k]] = chunks[k]
                    mask[r, :lengths[k]] = 1
                kw = {}
                if self.padded_batches and len({lengths[k] for k in batch}) > 1:
                    kw["attention_mask"] = torch.from_numpy(mask).to(self.device)
                res = self.model(torch.from_numpy(x).to(self.device), output_hidden_states=True,
                                 **kw)
                hs = res.hidden_states
                for r, k in enumerate(batch):
                    f = n_frames(lengths[k], self.kernels, self.strides)
                    chosen = [hs[j][r, :f].float().cpu().numpy() for j in self.layers]
                    out[k] = self._combine(chosen)
        return out

    def _combine(self, chosen: list[np.ndarray]) -> np.ndarray:
        if self.combine == "stack":
            return np.concatenate(chosen, axis=1).astype(np.float32)
        if self.combine == "weighted":
            return np.tensordot(self.layer_weights, np.stack(chosen), axes=1).astype(np.float32)
        return np.mean(np.stack(chosen), axis=0).astype(np.float32)

    def _stitch(self, n: int, plan, feats: dict, overlap: int) -> Frames:
        """Each frame from the chunk in which it lies farthest from an edge: consecutive
        chunks hand over in the middle of their overlap."""
        total = n_frames(n, self.kernels, self.strides)
        h = self.hop_samples
        starts = [s // h for s, _ in plan]
        ends = [o + feats[c].shape[0] for c, o in enumerate(starts)]
        bounds = ([0] + [(starts[c] + ends[c - 1]) // 2 for c in range(1, len(plan))]
                  + [total])
        parts = []
        for c, o in enumerate(starts):
            lo, hi = bounds[c] - o, bounds[c + 1] - o
            part = feats[c][lo:hi]
            if part.shape[0] != hi - lo:
                raise FeatureError(f"chunk {c} gave {feats[c].shape[0]} frames, {hi} needed "
                                   "(chunk plan and model geometry disagree)")
            parts.append(part)
        values = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise FeatureError(f"{self.feature_set.name}: the model returned NaN or infinity")
        return Frames(values, np.arange(total) * (h / TARGET_SR), self.names, TARGET_SR / h)


def n_frames_receptive(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Samples one output frame sees (400 for the wav2vec 2.0 encoder)."""
    r, jump = 1, 1
    for k, s in zip(kernels, strides):
        r += (k - 1) * jump
        jump *= s
    return r


def _load_model(folder: Path):
    """The encoder of a local folder, offline, with every weight of the checkpoint present."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import transformers
    except ImportError:
        raise ConfigError("SSL features need the transformers library: "
                          "pip install 'contaffect[ssl]'") from None
    transformers.utils.logging.disable_progress_bar()
    try:
        model, info = transformers.AutoModel.from_pretrained(
            str(folder), local_files_only=True, output_loading_info=True)
    except Exception as exc:     # noqa: BLE001 - truncated safetensors, bad JSON, bad shapes
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{folder}: transformers cannot load the model ({first}); "
                          "save it again with save_pretrained") from None
    missing = [k for k in info.get("missing_keys", [])
               if not any(h in k for h in _HARMLESS_MISSING)]
    if missing:
        raise FeatureError(f"{folder}: the checkpoint lacks {len(missing)} of the encoder's "
                           f"weights (e.g. {missing[:3]}); is it a {model.config.model_type} "
                           "encoder checkpoint?")
    return model.eval()
