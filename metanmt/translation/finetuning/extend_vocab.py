"""Vocabulary extension at fine-tuning time: pieces of a new language that the shared vocabulary
lacks, added to the source side before fine-tuning (instead of spelling it in UTF-8 bytes).

1. A sentencepiece unigram model is trained on the drawn training sources only (never dev or
   test), seeded with the plan's seed.
2. Its pieces that the shared vocabulary lacks *and that hold a character the vocabulary spells
   in UTF-8 bytes*, best-scored first, up to N, are appended to the *source* sentencepiece model
   with their scores, and to vocab.json after the old ids: every old id keeps its meaning, and
   English (the target side, target.spm) tokenizes as before. Only words with such a character
   segment differently: for Korean that is every word, for Latvian a third (ā, ē, ī, ķ, ļ, ņ),
   and the words the pre-trained model already spells in known pieces keep them (adding pieces
   for every word cost Latvian 0.9 BLEU; BENCHMARKS.md, "Vocabulary extension").
3. Each new embedding row starts as the mean of the rows of the pieces the old tokenizer splits
   it into (its bytes, for a script the vocabulary never saw). Marian ties the output projection
   to these embeddings, so the new rows are also output rows: their ``final_logits_bias`` is set
   to NEVER, and English output never holds a source-only piece (the target loss and every old
   logit are unchanged).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import sentencepiece as spm
import torch
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from transformers import MarianTokenizer

METHOD = "unigram-v2"  # how pieces are chosen and rows initialised: part of a job's fingerprint
NEVER = -1e4  # the logit bias of a source-only piece: exp(-1e4) is 0 in float32
NORMAL = model_pb2.ModelProto.SentencePiece.NORMAL
WORD_START = "\u2581"  # sentencepiece's word boundary


def new_pieces(
    sources: Sequence[str], tokenizer: MarianTokenizer, size: int, seed: int = 0
) -> list[tuple[str, float]]:
    """Up to ``size`` (piece, score) pairs of a unigram model trained on ``sources`` that the
    tokenizer's vocabulary lacks and that hold a character it spells in bytes, best-scored
    first."""
    sources = [s for s in sources if s.strip()]
    in_bytes = spelled_in_bytes(tokenizer, set("".join(sources)))
    if not in_bytes or size <= 0:
        return []
    buffer = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sources),
        model_writer=buffer,
        # room for the pieces the shared vocabulary already has (and at least every character,
        # as sentencepiece requires); a small corpus gives fewer
        vocab_size=max(size * 2 + 100, len(set("".join(sources))) + 10),
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        byte_fallback=False,
        num_threads=1,  # the same pieces on every machine
        minloglevel=2,
        max_sentence_length=8192,
    )
    proto = model_pb2.ModelProto()
    proto.ParseFromString(buffer.getvalue())
    known = tokenizer.get_vocab()
    found = [
        (p.piece, p.score)
        for p in proto.pieces
        if p.type == NORMAL and p.piece not in known and not in_bytes.isdisjoint(p.piece)
    ]
    found.sort(key=lambda item: -item[1])  # stable: ties keep the model's order
    return found[:size]


def spelled_in_bytes(tokenizer: MarianTokenizer, characters: set[str]) -> set[str]:
    """The characters the tokenizer's source model spells in UTF-8 bytes (or as unknown)."""
    processor = tokenizer.spm_source
    return {
        c
        for c in characters
        if not c.isspace()
        and any(processor.is_byte(i) or processor.is_unknown(i) for i in processor.encode(c))
    }


def extended_tokenizer(
    tokenizer: MarianTokenizer, pieces: Sequence[tuple[str, float]], folder: str | Path
) -> MarianTokenizer:
    """A MarianTokenizer in ``folder`` whose source model also holds ``pieces`` (ids after the
    old ones); the target model is the old one, byte for byte."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    proto = model_pb2.ModelProto()
    proto.ParseFromString(tokenizer.spm_source.serialized_model_proto())
    vocab = dict(tokenizer.get_vocab())
    for piece, score in pieces:
        vocab[piece] = len(proto.pieces)  # sentencepiece's id = the model's id
        proto.pieces.add(piece=piece, score=score, type=NORMAL)
    (folder / "source.spm").write_bytes(proto.SerializeToString())
    (folder / "target.spm").write_bytes(tokenizer.spm_target.serialized_model_proto())
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )


def old_split(tokenizer: MarianTokenizer, piece: str) -> list[int]:
    """The ids the old tokenizer gives ``piece`` alone (no word boundary added in front of a
    piece that starts inside a word)."""
    text = piece.replace(WORD_START, " ")
    ids = tokenizer.spm_source.encode(text)
    if (
        not piece.startswith(WORD_START)
        and ids
        and tokenizer.spm_source.id_to_piece(ids[0]) == (WORD_START)
    ):
        ids = ids[1:]
    return ids or [tokenizer.unk_token_id]


def extend_model(model, tokenizer: MarianTokenizer, pieces: Sequence[tuple[str, float]]) -> None:
    """Append a row per piece to ``model``'s (tied) embeddings: the mean of its old split's rows;
    its output bias NEVER."""
    old = model.get_input_embeddings().num_embeddings
    splits = [old_split(tokenizer, piece) for piece, _ in pieces]
    model.resize_token_embeddings(old + len(pieces), mean_resizing=False)
    with torch.no_grad():
        rows = model.get_input_embeddings().weight
        for i, ids in enumerate(splits):
            rows[old + i] = rows[ids].mean(0)
        bias = getattr(model, "final_logits_bias", None)
        if bias is not None:
            bias[:, old:] = NEVER


def extend_vocabulary(
    model, tokenizer: MarianTokenizer, sources: Sequence[str], size: int, seed: int = 0
) -> tuple[MarianTokenizer, list[str]]:
    """Extend ``model`` in place and return (the extended tokenizer, the pieces added): up to
    ``size`` pieces from ``sources`` (the drawn training side). Nothing to add returns the
    tokenizer as it was."""
    pieces = new_pieces(sources, tokenizer, size, seed)
    if not pieces:
        return tokenizer, []
    # the tokenizer holds its sentencepiece models in memory, and save_pretrained writes them
    # from there once these files are gone
    with tempfile.TemporaryDirectory(prefix="metanmt-vocab-") as folder:
        extended = extended_tokenizer(tokenizer, pieces, folder)
    extend_model(model, tokenizer, pieces)
    return extended, [piece for piece, _ in pieces]


def token_counts(tokenizer: MarianTokenizer, texts: Sequence[str]) -> dict[str, float]:
    """Source tokens per sentence and the share of them that are UTF-8 bytes."""
    processor = tokenizer.spm_source
    ids = processor.encode(list(texts))
    total = sum(len(s) for s in ids) or 1
    byte = sum(processor.is_byte(t) for s in ids for t in s)
    return {"tokens_per_sentence": total / max(len(texts), 1), "byte_share": byte / total}
