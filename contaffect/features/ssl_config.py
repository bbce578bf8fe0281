"""The ``[ssl]`` section: self-supervised speech models from local folders, and their layers.

Declared once here and read by the config loader, the time-continuous
pipeline (``[features] set = "ssl:<model>"``), the utterance representations
(``ssl:<model>``, ``ssl_mean:<model>``) and ``contaffect extract``. This
module imports neither torch nor transformers: checking a config only looks
at the folders (:func:`locate_weights`).

A model is named by a key of ``[ssl] models`` (``hubert = "/models/hubert-base-ls960"``)
or, in ``[features] set`` and on the command line, by its folder. Nothing is
ever downloaded: a folder without weights is a one-line error that says what
to put where.

Layers. ``hidden_states[0]`` is the transformer's input (the CNN encoder's
projected output with positional convolution), ``hidden_states[k]`` the
output of transformer layer ``k``; ``layers = "all"`` takes ``0 .. L``.
``combine`` turns the chosen layers into frame features:

- ``mean``: their average, a fixed equal-weight sum (the initial state of
  SUPERB's learnt weighting; Yang et al., Interspeech 2021);
- ``weighted``: a fixed weighted sum, ``weights`` normalised to sum to 1;
- ``stack``: every chosen layer side by side, so that a head learns a
  softmax-weighted sum (SUPERB's featurizer, as in seed 004). It stores
  ``n_layers`` times as many numbers: 13 x 768 float32 at 50 Hz is 2 MB per
  second of audio for a base model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from contaffect.devices import DEVICES
from contaffect.errors import ConfigError
from contaffect.options import Choice, Float, Int, ListOf, MapOf, OneOf, PathStr, option

#: Prefix of an SSL feature set or representation name.
PREFIX = "ssl:"
#: Files that hold a model's weights (``save_pretrained``'s names), in the order tried.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
#: ``config.json`` model types contaffect loads (the wav2vec 2.0 family's encoders).
MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer")
#: How chosen layers become frame features (see the module docstring).
COMBINES = ("mean", "weighted", "stack")


@dataclass(frozen=True)
class SSLConfig:
    """Self-supervised speech models and how their layers are read (the ``[ssl]`` section)."""

    models: dict = option({}, "Model name -> local folder (`save_pretrained` output or a Hugging "
                              "Face cache folder `models--<org>--<name>`); `ssl:<name>` "
                              "refers to it. Nothing is downloaded.",
                          MapOf(PathStr()))
    layers: object = option("all", "Hidden states to read: `all` (0 = the transformer's "
                                   "input, k = transformer layer k) or a list of indices "
                                   "(negative counts from the last).",
                            OneOf((Choice(("all",)), ListOf(Int(min=-64, max=64), min_len=1,
                                                            unique=True))))
    combine: str = option("mean", "`mean` of the chosen layers, a fixed `weighted` sum, or "
                                  "`stack` them for a learnt weighted sum in the heads.",
                          Choice(COMBINES))
    weights: tuple = option((), "Fixed layer weights for `combine = \"weighted\"` (one per "
                                "chosen layer; normalised to sum to 1).",
                            ListOf(Float(min=0.0, max=1e6)))
    chunk_s: float = option(20.0, "Recordings are encoded in chunks of this many seconds "
                                  "(bounds memory: attention is quadratic in length).",
                            Float(min=1.0, max=3600.0))
    overlap_s: float = option(2.0, "Overlap of consecutive chunks; each frame is taken from "
                                   "the chunk where it is farthest from an edge.",
                              Float(min=0.1, max=600.0))
    batch_size: int = option(1, "Chunks encoded per forward pass (equal-length chunks; padded "
                                "batches only for models with attention masks). Memory grows "
                                "with batch_size x chunk_s; on 2 CPU cores batching gave no "
                                "speed (benchmarks/README.md), on a GPU raise it.",
                             Int(min=1, max=4096))
    device: str = option("auto", "Where to run the model.", Choice(DEVICES))

    def validate(self) -> None:
        """Cross-field checks (one line each)."""
        if self.overlap_s < 0.1:
            raise ConfigError(f"overlap_s = {self.overlap_s:g} must be at least 0.1 s (five "
                              "frames), or chunk edges show")
        if self.overlap_s * 2 >= self.chunk_s:
            raise ConfigError(f"overlap_s = {self.overlap_s:g} must be less than half of "
                              f"chunk_s = {self.chunk_s:g}")
        if self.combine == "weighted":
            if not self.weights:
                raise ConfigError('combine = "weighted" needs weights, one per layer')
            if isinstance(self.layers, (list, tuple)) and len(self.weights) != len(self.layers):
                raise ConfigError(f"{len(self.weights)} weights for {len(self.layers)} "
                                  "layers")
            if sum(self.weights) <= 0:
                raise ConfigError("weights must not all be 0")
        elif self.weights:
            raise ConfigError(f'weights are used only with combine = "weighted", not '
                              f'{self.combine!r}')

    def folder(self, model: str) -> Path:
        """The folder of ``model`` (a key of :attr:`models` or a folder path)."""
        if model in self.models:
            return Path(self.models[model])
        if _looks_like_path(model):
            return Path(model).expanduser().resolve()
        known = ", ".join(sorted(self.models)) or "none"
        raise ConfigError(f"ssl:{model}: no such model in [ssl] models (known: {known}); "
                          f"add `{model} = \"<folder>\"` there or give the folder's path")


def _looks_like_path(text: str) -> bool:
    """A model given as a folder (``/``, ``./``, ``~``), not as a key of ``[ssl] models``."""
    return "/" in text or text.startswith((".", "~"))


def is_ssl(name: str) -> bool:
    """True for ``ssl:<model>``."""
    return name.startswith(PREFIX) and len(name) > len(PREFIX)


def model_of(name: str) -> str:
    """``<model>`` of ``ssl:<model>``."""
    return name[len(PREFIX):]


def _snapshot(folder: Path) -> Path:
    """A Hugging Face cache folder (``models--org--name``) -> the snapshot ``refs/main`` names."""
    snaps = folder / "snapshots"
    if not snaps.is_dir():
        return folder
    ref = folder / "refs" / "main"
    if ref.is_file() and (snaps / ref.read_text().strip()).is_dir():
        return snaps / ref.read_text().strip()
    found = sorted(p for p in snaps.iterdir() if p.is_dir())
    if len(found) == 1:
        return found[0]
    raise ConfigError(f"{folder} is a Hugging Face cache folder with {len(found)} snapshots and "
                      "no refs/main: name the snapshot folder itself")


def locate_weights(folder: str | Path) -> tuple[Path, str]:
    """The model folder (a cache folder resolved to its snapshot) and its model type.

    Checks, without importing torch or transformers, that the folder holds a
    ``config.json`` of a supported model type and a weights file. Every
    problem is a one-line :class:`ConfigError` that says what to put where.
    """
    folder = Path(folder).expanduser()
    how = ("put config.json and model.safetensors (or pytorch_model.bin) there, e.g. with "
           "`Model.from_pretrained(name).save_pretrained(folder)` on a machine that has the "
           "weights; contaffect never downloads")
    if not folder.is_dir():
        raise ConfigError(f"SSL model folder {folder} does not exist: {how}")
    folder = _snapshot(folder)
    conf = folder / "config.json"
    if not conf.is_file():
        raise ConfigError(f"SSL model folder {folder} has no config.json: {how}")
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        raise ConfigError(f"SSL model folder {folder} holds no weights (none of "
                          f"{', '.join(WEIGHT_FILES)}): {how}")
    try:
        model_type = json.loads(conf.read_text()).get("model_type", "")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{conf}: not a readable model config ({exc})") from None
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"{conf}: model_type {model_type!r} is not a speech SSL encoder "
                          f"contaffect reads; supported: {', '.join(MODEL_TYPES)}")
    return folder, model_type


def resolve_layers(layers, n_hidden: int) -> tuple[int, ...]:
    """Indices into ``hidden_states`` (``0 .. n_hidden - 1``) of ``[ssl] layers``."""
    if layers == "all":
        return tuple(range(n_hidden))
    out = []
    for k in layers:
        j = k + n_hidden if k < 0 else k
        if not 0 <= j < n_hidden:
            raise ConfigError(f"[ssl] layers: {k} is out of range for a model with "
                              f"{n_hidden - 1} transformer layers (0 .. {n_hidden - 1})")
        out.append(j)
    if len(set(out)) < len(out):
        raise ConfigError(f"[ssl] layers {list(layers)} name a layer twice")
    return tuple(out)


def check_model(folder: str | Path, ssl: SSLConfig) -> Path:
    """A model folder with weights whose layer count fits ``[ssl] layers`` / ``weights``.

    Reads ``config.json`` only (no torch), so that a config is refused at load,
    before any work, for a layer the model does not have.
    """
    folder, _ = locate_weights(folder)
    conf = json.loads((folder / "config.json").read_text())
    layers = resolve_layers(ssl.layers, int(conf.get("num_hidden_layers", 12)) + 1)
    if ssl.combine == "weighted" and len(ssl.weights) != len(layers):
        raise ConfigError(f"[ssl] {len(ssl.weights)} weights for {len(layers)} layers of "
                          f"{folder.name}")
    return folder
