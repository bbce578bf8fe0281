"""Randomly initialised SSL encoders saved to a folder: offline plumbing checks and benchmarks.

Nothing is downloaded: the architecture comes from a ``transformers`` config
class, the weights from a seeded random initialisation. The numbers such a
model gives mean nothing; its shapes, frame rate, speed and memory are those
of the real architecture (``size="base"`` is the 12-layer, 768-wide base
model of wav2vec 2.0 / HuBERT / WavLM, about 95 M parameters).
"""

from __future__ import annotations

from pathlib import Path

from contaffect.errors import ConfigError

#: family -> transformers config and model class names
FAMILIES = {"wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
            "hubert": ("HubertConfig", "HubertModel"),
            "wavlm": ("WavLMConfig", "WavLMModel")}

#: size -> config keywords (tiny: 2 layers, 32 wide, the real CNN geometry)
SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                 num_conv_pos_embedding_groups=2),
    "base": {},
}


def save_random_model(folder: str | Path, family: str = "hubert", size: str = "tiny", *,
                      seed: int = 0, feat_extract_norm: str | None = None,
                      do_normalize: bool = True) -> Path:
    """Save a seeded random ``family`` encoder of ``size`` with ``save_pretrained``.

    Parameters
    ----------
    folder
        Where to write ``config.json``, ``model.safetensors`` and
        ``preprocessor_config.json``.
    family
        ``wav2vec2``, ``hubert`` or ``wavlm``.
    size
        ``tiny`` or ``base``.
    seed
        Seed of the initialisation (the same seed writes the same weights).
    feat_extract_norm
        ``group`` (base models' default) or ``layer`` (supports padded batches).
    do_normalize
        The preprocessor's input normalisation flag.
    """
    import json

    import torch
    import transformers

    if family not in FAMILIES or size not in SIZES:
        raise ConfigError(f"family must be one of {sorted(FAMILIES)} and size one of "
                          f"{sorted(SIZES)}, got {family!r}, {size!r}")
    transformers.utils.logging.disable_progress_bar()
    conf_cls, model_cls = (getattr(transformers, n) for n in FAMILIES[family])
    kw = dict(SIZES[size])
    if feat_extract_norm is not None:
        kw["feat_extract_norm"] = feat_extract_norm
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(conf_cls(**kw)).eval()
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(
        {"do_normalize": do_normalize, "feature_size": 1, "sampling_rate": 16000,
         "padding_value": 0.0, "return_attention_mask": kw.get("feat_extract_norm") == "layer"},
        indent=2))
    return folder
