"""The translation model: a `transformers` MarianMT encoder-decoder in named sizes, or any local
seq2seq checkpoint (``init_from``). Embeddings are shared between encoder, decoder and output."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, MarianConfig, MarianMTModel, PreTrainedModel
from transformers.utils import CONFIG_NAME, SAFE_WEIGHTS_NAME
from transformers.utils import logging as transformers_logging

from metanmt.checkpoint import WEIGHTS, find_checkpoint, load_checkpoint
from metanmt.run import load_run
from metanmt.run_folder import checkpoint_of, is_run
from metanmt.translation.data.vocab import EOS, PAD, SPM_FILE, load_tokenizer
from metanmt.translation.settings import SUBSETS

transformers_logging.disable_progress_bar()  # its per-load weight bars would bury ours

PRESETS = {
    # d_model, layers (each side), heads, feed-forward width
    "tiny": dict(d_model=32, layers=1, heads=2, ffn=64),  # tests: trains in seconds
    # a 2-core CPU: 2 layers learn more per CPU-minute than 3 at the cpu preset's length
    # (benchmarks/preset_sweep.py, BENCHMARKS.md issue 26)
    "cpu": dict(d_model=256, layers=2, heads=4, ffn=1024),
    "paper": dict(d_model=512, layers=6, heads=8, ffn=2048),  # Gu et al. 2018, for GPUs
}


def build_model(
    size: str,
    vocab_size: int,
    dropout: float = 0.1,
    max_positions: int = 512,
    attn_implementation: str = "sdpa",
) -> MarianMTModel:
    """A freshly initialised MarianMT model of a named size (weights from the global torch seed)."""
    if size not in PRESETS:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(PRESETS)}")
    return model_of_shape(PRESETS[size], vocab_size, dropout, max_positions, attn_implementation)


def model_of_shape(
    p: dict,
    vocab_size: int,
    dropout: float = 0.1,
    max_positions: int = 512,
    attn_implementation: str = "sdpa",
) -> MarianMTModel:
    """A fresh MarianMT model of any shape ``p`` (the keys of a PRESETS entry)."""
    config = MarianConfig(
        vocab_size=vocab_size,
        d_model=p["d_model"],
        encoder_layers=p["layers"],
        decoder_layers=p["layers"],
        encoder_attention_heads=p["heads"],
        decoder_attention_heads=p["heads"],
        encoder_ffn_dim=p["ffn"],
        decoder_ffn_dim=p["ffn"],
        max_position_embeddings=max_positions,
        dropout=dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=PAD,
        eos_token_id=EOS,
        decoder_start_token_id=PAD,
        forced_eos_token_id=EOS,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
    )
    config._attn_implementation = attn_implementation
    return learn_pad_row(MarianMTModel(config))


def learn_pad_row(model: PreTrainedModel) -> PreTrainedModel:
    """Give the pad row of the token embeddings a gradient. Marian builds them with
    ``padding_idx``, which keeps row 0 fixed, but pad is also the decoder's start token, so that
    row does change the loss: a frozen row would make every gradient through it wrong (MAML's
    second-order one by 3e-5 to 2e-3 relative, and 25x off on the row itself). Padded positions
    are masked or carry no label, so they add nothing to the row's gradient."""
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            module.padding_idx = None
    return model


def preset_of(model: PreTrainedModel) -> str:
    """The name of the preset whose shape ``model`` has ("" for any other model)."""
    c = model.config
    shape = dict(
        d_model=c.d_model,
        layers=c.encoder_layers,
        heads=c.encoder_attention_heads,
        ffn=c.encoder_ffn_dim,
    )
    return next((name for name, p in PRESETS.items() if p == shape), "")


def load_pretrained(folder: str | Path, attn_implementation: str = "sdpa") -> PreTrainedModel:
    """Any local seq2seq checkpoint saved with ``save_pretrained`` (no hub access)."""
    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"{folder} is not a saved transformers model (no {CONFIG_NAME})")
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(
            str(folder), local_files_only=True, attn_implementation=attn_implementation
        )
    except (OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"cannot load the model in {folder}: {error}") from None
    return learn_pad_row(model)


def check_vocabulary(model: PreTrainedModel, tokenizer, source: str) -> None:
    """A model and a tokenizer that disagree would translate garbage: say so up front."""
    rows = model.get_input_embeddings().weight.shape[0]
    if rows != len(tokenizer):
        raise ValueError(
            f"{source}: the model has {rows} embedding rows but the tokenizer has "
            f"{len(tokenizer)} entries; they come from different vocabularies"
        )


def trainable_subset(model: PreTrainedModel, subset: str) -> list[str]:
    """Names of the parameters a fine-tuning of ``subset`` updates (the rest stay frozen)."""
    if subset not in SUBSETS:
        raise ValueError(f"unknown parameter subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if subset == "all":
        return names
    embedding = model.get_input_embeddings().weight
    embedding_names = [n for n, p in model.named_parameters() if p is embedding]
    if subset == "emb":
        return embedding_names
    encoder = model.get_encoder()
    encoder_ids = {id(p) for p in encoder.parameters()}
    return [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (id(p) in encoder_ids or n in embedding_names)
    ]


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_init(source: str | Path, vocab: str | Path | None = None) -> dict:
    """Check that ``source`` names an initialisation that will load, without loading a model,
    and return what identifies it (the weights' sha256, or the size and vocabulary): a result
    made from it is keyed by this. Errors name the source and what to do."""
    text = str(source)
    if text.startswith("random:"):
        size = text.split(":", 1)[1]
        if size not in PRESETS:
            raise ValueError(
                f"{text}: unknown model size {size!r}; choose random:{' | random:'.join(PRESETS)}"
            )
        if vocab is None or not (Path(vocab) / SPM_FILE).is_file():
            where = f" ({vocab} holds none)" if vocab else ""
            raise ValueError(
                f"{text} needs a vocabulary to size its embeddings{where}: pass "
                f"--vocab FOLDER or --corpus CORPUS (a corpus from `metanmt "
                f"prepare`)"
            )
        return {"random": size, "vocabulary": file_sha256(Path(vocab) / SPM_FILE)}
    folder = Path(source)
    if not folder.exists():
        raise FileNotFoundError(f"no model, run or checkpoint at {folder}")
    if is_run(folder):
        checkpoint = find_checkpoint(checkpoint_of(folder))
        _, config, _ = load_checkpoint(checkpoint, with_state=False)  # checksums checked too
        if config.get("family") != "translation":
            raise ValueError(f"{folder} is a {config.get('family')!r} run, not a translation run")
        return {"run": str(checkpoint.resolve()), "weights": file_sha256(checkpoint / WEIGHTS)}
    missing = [
        name
        for name in (CONFIG_NAME, SAFE_WEIGHTS_NAME, "vocab.json", SPM_FILE)
        if not (folder / name).is_file()
    ]
    if missing:
        raise ValueError(
            f"{folder} is neither a metanmt run nor a save_pretrained model with its "
            f"tokenizer (missing {', '.join(missing)})"
        )
    return {"model": str(folder.resolve()), "weights": file_sha256(folder / SAFE_WEIGHTS_NAME)}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_translation_model(
    source: str | Path, vocab: str | Path | None = None, seed: int = 0, dropout: float = 0.1
):
    """``(model, tokenizer)`` from any initialisation a user names:

    - ``random:<size>``: a fresh model of that size over the tokenizer in ``vocab`` (seeded);
    - a metanmt training run (or one of its checkpoints): its best weights, its corpus' tokenizer;
    - a folder written by ``save_pretrained`` with its tokenizer (a fine-tuned or exported model).
    """
    text = str(source)
    if text.startswith("random:"):
        if vocab is None:
            raise ValueError(f"{text} needs a vocabulary folder to size its embeddings")
        tokenizer = load_tokenizer(vocab)
        torch.manual_seed(seed)
        return build_model(text.split(":", 1)[1], len(tokenizer), dropout), tokenizer
    folder = Path(source)
    if not folder.exists():
        raise FileNotFoundError(f"no model, run or checkpoint at {folder}")
    if is_run(folder):
        run = load_run(folder)
        if run.config.family != "translation":
            raise ValueError(f"{folder} is a {run.config.family!r} run, not a translation run")
        return run.model, run.family.tokenizer
    model = load_pretrained(folder)
    tokenizer = load_tokenizer(folder)
    check_vocabulary(model, tokenizer, str(folder))
    return model, tokenizer


def save_translation_model(model: PreTrainedModel, tokenizer, folder: str | Path) -> Path:
    """``save_pretrained`` of the model and its tokenizer: any transformers user can load it."""
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
