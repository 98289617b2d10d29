"""Models people can ship: a run or a saved model converted to CTranslate2 (int8, int16, float32,
int8_float32 for CPUs; float16, bfloat16, int8_float16, int8_bfloat16 for GPUs, converted to the
nearest CPU type when a CPU loads them), and ``CTranslate2Model``, which ``decode.translate`` runs
like a `transformers` model: same tokenizer, batching, beam or sampling, length penalty, n-best
lists and handling of long sources.

CTranslate2's own MarianMT converter assumes OPUS-MT's vocabulary: ``<pad>`` last, and a decoder
that starts from a zero embedding. metanmt's models have ``<pad>`` first and start the decoder from
its learned embedding (as `transformers` runs them), so they are converted as the BART-like
encoder-decoder they are, every token kept and ``<pad>`` the decoder's start token. ``ctranslate2``
is an optional extra: ``pip install -e '.[serve]'``.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import torch

import metanmt
from metanmt.files import atomic_dir
from metanmt.translation.data.vocab import load_tokenizer
from metanmt.translation.finetuning.decode import Hypothesis, ranked
from metanmt.translation.model import load_translation_model, resolve_device, save_translation_model
from metanmt.translation.settings import ENGINES, QUANTIZATIONS

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


def check_export_folder(out: Path, force: bool) -> None:
    """``out`` is new, empty, or (with ``force``) an earlier export to replace."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder to export into")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise ValueError(
            f"{out} is not empty: give a new folder to export into, or --force to replace it"
        )
    if not (out / EXPORT_INFO).is_file():
        raise ValueError(
            f"{out} is not empty and holds no {EXPORT_INFO}: --force replaces an earlier "
            f"export only, never another folder"
        )


def export_ctranslate2(
    source: str | Path, out: str | Path, quantization: str = "int8", force: bool = False
) -> Path:
    """Convert a training run (its best weights) or a saved model folder to a CTranslate2 model
    in ``out``, with its tokenizer and a model card. The folder is written whole or not at all
    (built beside it, then swapped in): a failed export leaves ``out`` as it was. ``force``
    replaces an earlier export; GPU quantizations (float16, ...) convert on a CPU too."""
    require_ctranslate2()
    from ctranslate2.converters import TransformersConverter

    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"--quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )
    out = Path(out)
    check_export_folder(out, force)
    model, tokenizer = load_translation_model(source)
    with atomic_dir(out) as built, tempfile.TemporaryDirectory() as saved:
        save_translation_model(model, tokenizer, saved)
        with marian_as_metanmt_trains_it():
            TransformersConverter(saved).convert(str(built), quantization=quantization, force=True)
        tokenizer.save_pretrained(built)
        describe_export(built, Path(source), quantization, model.config, out.resolve().name)
    return out


def describe_export(folder: Path, source: Path, quantization: str, config, name: str) -> None:
    """The export's ``EXPORT_INFO``, and the source's model card (if it has one) saying what it
    became (naming the export by its folder ``name``, never a path of this machine)."""
    ctranslate2 = require_ctranslate2()
    info = {
        "source": source.resolve().name,  # shipped with the model: no path of this machine
        "quantization": quantization,
        "max_position_embeddings": config.max_position_embeddings,
        "ctranslate2": ctranslate2.__version__,
        "metanmt": metanmt.__version__,
    }
    (folder / EXPORT_INFO).write_text(json.dumps(info, indent=1))
    card = source / "README.md"
    if card.is_file():  # a fine-tuned model's card goes with it, saying what it became
        shutil.copy(card, folder / "README.md")
        with (folder / "README.md").open("a", encoding="utf-8") as handle:
            handle.write(
                f"\nExported to CTranslate2 {ctranslate2.__version__} ({quantization}) "
                f"by metanmt {metanmt.__version__}: `metanmt translate --model {name} "
                f"--engine ctranslate2`.\n"
            )


class CTranslate2Model:
    """An exported model that ``decode.translate`` runs: token ids in, English out.
    ``compute_type``: CTranslate2's (``default``: the exported weights' type, converted where the
    device cannot compute in it, e.g. float16 to float32 on a CPU, which it then says)."""

    def __init__(
        self,
        folder: str | Path,
        threads: int = 0,
        device: str = "cpu",
        compute_type: str = "default",
    ):
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
        supported = ctranslate2.get_supported_compute_types(device)
        check_compute_type(compute_type, device, supported)
        level = ctranslate2.get_log_level()
        ctranslate2.set_log_level(logging.ERROR)  # its conversion warning: ours below, one line
        try:
            self.translator = ctranslate2.Translator(
                str(folder),
                device=device,
                compute_type=compute_type,
                inter_threads=1,
                intra_threads=threads,
            )
        finally:
            ctranslate2.set_log_level(level)
        weights = info.get("quantization", "")
        if compute_type == "default" and weights and weights not in supported:
            logging.getLogger("metanmt").warning(
                f"{folder.name} holds {weights} weights, which a {device} does not compute "
                f"in: CTranslate2 converted them to {self.translator.compute_type} as it loaded "
                f"(for a CPU, export with --quantization int8)"
            )

    def seed(self, seed: int) -> None:
        """Seed CTranslate2's sampling (``decode.seed_sampling``)."""
        require_ctranslate2().set_random_seed(seed)

    def translate_ids(self, ids: list[list[int]], search, max_new: int) -> list[list[Hypothesis]]:
        """Each id list's ``search.nbest`` hypotheses (a ``decode.Search``), best first."""
        tokens = [self.tokenizer.convert_ids_to_tokens(seq) for seq in ids]
        if search.sampling:  # one token at a time: CTranslate2 crashes sampling in a beam
            options = dict(
                beam_size=1,
                sampling_topk=search.sampling_topk,
                sampling_temperature=search.sampling_temperature,
            )
        else:
            options = dict(beam_size=search.beams)
        # generate() forces </s> as the last of max_new tokens: CTranslate2 counts words only
        results = self.translator.translate_batch(
            tokens,
            max_batch_size=search.batch_size or 0,
            num_hypotheses=search.nbest,
            length_penalty=search.length_penalty,
            max_decoding_length=max_new - 1,
            return_scores=search.scores,
            **options,
        )
        return [
            ranked(
                [
                    Hypothesis(self.text(hypothesis), r.scores[k] if search.scores else math.nan)
                    for k, hypothesis in enumerate(r.hypotheses)
                ]
            )
            for r in results
        ]

    def text(self, tokens: list[str]) -> str:
        return self.tokenizer.decode(
            self.tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True
        )


def check_compute_type(compute_type: str, device: str, supported) -> None:
    """Refuse a --compute-type the device cannot run, naming those it can."""
    if compute_type not in ("default", "auto", *supported):
        raise ValueError(
            f"--compute-type {compute_type} is not supported on this {device}: it supports "
            f"{', '.join(sorted(supported))} (or default: the model's own, auto: the fastest)"
        )


def load_for_translation(
    source: str | Path, engine: str = "auto", device: str = "auto", compute_type: str = "default"
):
    """``(model, tokenizer)`` that ``decode.translate`` runs: a CTranslate2 export (``engine``
    ctranslate2, or auto and the folder is one) computing in ``compute_type``, else a run or a
    saved model in `transformers` (float32: ``compute_type`` must stay ``default``)."""
    if engine not in ("auto", *ENGINES):
        raise ValueError(f"--engine must be auto, {' or '.join(ENGINES)}, got {engine!r}")
    exported = (Path(source) / EXPORT_INFO).is_file()
    if engine == "ctranslate2" or (engine == "auto" and exported):
        model = CTranslate2Model(
            source, torch.get_num_threads(), resolve_device(device).type, compute_type
        )
        return model, model.tokenizer
    if exported:
        raise ValueError(
            f"{source} is a CTranslate2 export: translate it with --engine ctranslate2 (or auto)"
        )
    if compute_type != "default":
        raise ValueError(
            f"--compute-type is for CTranslate2 models (made by `metanmt export`); {source} "
            f"runs in transformers, in float32"
        )
    model, tokenizer = load_translation_model(source)
    return model.to(resolve_device(device)), tokenizer
