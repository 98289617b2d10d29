"""Models people can ship: a run or a saved model converted to CTranslate2 (fp32, int16 or int8),
and ``CTranslate2Model``, which ``decode.translate`` runs like a `transformers` model: same
tokenizer, batching, beam, length penalty and handling of long sources.

CTranslate2's own MarianMT converter assumes OPUS-MT's vocabulary: ``<pad>`` last, and a decoder
that starts from a zero embedding. metanmt's models have ``<pad>`` first and start the decoder from
its learned embedding (as `transformers` runs them), so they are converted as the BART-like
encoder-decoder they are, every token kept and ``<pad>`` the decoder's start token. ``ctranslate2``
is an optional extra: ``pip install -e '.[serve]'``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import torch

import metanmt
from metanmt.translation.data.vocab import load_tokenizer
from metanmt.translation.model import load_translation_model, resolve_device, save_translation_model

QUANTIZATIONS = ("int8", "int16", "float32")
ENGINES = ("transformers", "ctranslate2")
EXPORT_INFO = "metanmt_export.json"  # what was exported, and the positions the model has


def require_ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise ValueError(
            "the ctranslate2 engine needs the optional extra: pip install -e "
            "'.[serve]' (or pip install ctranslate2)"
        ) from None
    return ctranslate2


@contextmanager
def marian_as_metanmt_trains_it():
    """CTranslate2's loader for MarianConfig, for the length of a conversion: keep every token
    (``<pad>`` included) and start the decoder from ``<pad>``'s embedding."""
    from ctranslate2.converters import transformers as converters

    class MetanmtMarianLoader(converters.BartLoader):
        @property
        def architecture_name(self):
            return "MarianMTModel"

        def get_model_spec(self, model):
            model.config.normalize_before = False  # Marian: post-norm, no embedding norm
            model.config.normalize_embedding = False
            return super().get_model_spec(model)

        def set_config(self, config, model, tokenizer):
            super().set_config(config, model, tokenizer)
            config.bos_token = tokenizer.pad_token
            config.decoder_start_token = tokenizer.pad_token

    before = converters._MODEL_LOADERS.get("MarianConfig")
    converters._MODEL_LOADERS["MarianConfig"] = MetanmtMarianLoader()
    try:
        yield
    finally:
        converters._MODEL_LOADERS["MarianConfig"] = before


def export_ctranslate2(source: str | Path, out: str | Path, quantization: str = "int8") -> Path:
    """Convert a training run (its best weights) or a saved model folder to a CTranslate2 model
    in ``out``, with its tokenizer and a model card."""
    ctranslate2 = require_ctranslate2()
    from ctranslate2.converters import TransformersConverter

    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"--quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: give a new folder to export into")
    model, tokenizer = load_translation_model(source)
    with tempfile.TemporaryDirectory() as tmp:
        save_translation_model(model, tokenizer, tmp)
        with marian_as_metanmt_trains_it():
            TransformersConverter(tmp).convert(str(out), quantization=quantization, force=True)
    tokenizer.save_pretrained(out)
    info = {
        "source": str(Path(source).resolve()),
        "quantization": quantization,
        "max_position_embeddings": model.config.max_position_embeddings,
        "ctranslate2": ctranslate2.__version__,
        "metanmt": metanmt.__version__,
    }
    (out / EXPORT_INFO).write_text(json.dumps(info, indent=1))
    card = Path(source) / "README.md"
    if card.is_file():  # a fine-tuned model's card goes with it, saying what it became
        shutil.copy(card, out / "README.md")
        with (out / "README.md").open("a", encoding="utf-8") as handle:
            handle.write(
                f"\nExported to CTranslate2 {ctranslate2.__version__} ({quantization}) "
                f"by metanmt {metanmt.__version__}: `metanmt translate --model {out} "
                f"--engine ctranslate2`.\n"
            )
    return out


class CTranslate2Model:
    """An exported model that ``decode.translate`` runs: token ids in, English out."""

    def __init__(self, folder: str | Path, threads: int = 0, device: str = "cpu"):
        ctranslate2 = require_ctranslate2()
        folder = Path(folder)
        if not (folder / EXPORT_INFO).is_file():
            raise ValueError(
                f"{folder} is not a CTranslate2 export of metanmt (no {EXPORT_INFO}):"
                f" make one with `metanmt export MODEL --to ctranslate2 --out DIR`"
            )
        info = json.loads((folder / EXPORT_INFO).read_text())
        self.config = SimpleNamespace(max_position_embeddings=info["max_position_embeddings"])
        self.tokenizer = load_tokenizer(folder)
        self.translator = ctranslate2.Translator(
            str(folder), device=device, inter_threads=1, intra_threads=threads
        )

    def translate_ids(
        self, ids: list[list[int]], beams: int, length_penalty: float, max_new: int
    ) -> list[str]:
        tokens = [self.tokenizer.convert_ids_to_tokens(seq) for seq in ids]
        # generate() forces </s> as the last of max_new tokens: CTranslate2 counts words only
        results = self.translator.translate_batch(
            tokens, beam_size=beams, length_penalty=length_penalty, max_decoding_length=max_new - 1
        )
        return [
            self.tokenizer.decode(
                self.tokenizer.convert_tokens_to_ids(r.hypotheses[0]), skip_special_tokens=True
            )
            for r in results
        ]


def load_for_translation(source: str | Path, engine: str = "auto", device: str = "auto"):
    """``(model, tokenizer)`` that ``decode.translate`` runs: a CTranslate2 export (``engine``
    ctranslate2, or auto and the folder is one), else a run or a saved model in `transformers`."""
    if engine not in ("auto", *ENGINES):
        raise ValueError(f"--engine must be auto, {' or '.join(ENGINES)}, got {engine!r}")
    exported = (Path(source) / EXPORT_INFO).is_file()
    if engine == "ctranslate2" or (engine == "auto" and exported):
        model = CTranslate2Model(source, torch.get_num_threads(), resolve_device(device).type)
        return model, model.tokenizer
    if exported:
        raise ValueError(
            f"{source} is a CTranslate2 export: translate it with --engine ctranslate2 (or auto)"
        )
    model, tokenizer = load_translation_model(source)
    return model.to(resolve_device(device)), tokenizer
