"""One shared sentencepiece vocabulary for every language, wrapped as a `transformers` tokenizer.

The unigram model is trained on the training languages and English, with byte fallback so that a
script it never saw (Hangul, say) still encodes without ``<unk>``. ``vocab.json`` maps each piece
to its sentencepiece id, so the fast path (``encode``: sentencepiece in C++) and the
``MarianTokenizer`` saved beside every model give the same ids.
"""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm
from transformers import MarianTokenizer

from metanmt.translation.data.batches import EncodedPairs

log = logging.getLogger(__name__)

PAD, EOS, UNK = 0, 1, 2  # Marian's convention: decoding starts from the pad id
SPM_FILE = "source.spm"


def train_vocabulary(
    sentences: Sequence[str],
    out_dir: str | Path,
    vocab_size: int = 8000,
    max_sentences: int = 300_000,
    seed: int = 0,
    character_coverage: float = 0.9995,
) -> MarianTokenizer:
    """Train the shared unigram model on (a seeded sample of) ``sentences``; save the tokenizer."""
    sentences = [s for s in sentences if s]
    if not sentences:
        raise ValueError("cannot train a vocabulary on no sentences")
    if len(sentences) > max_sentences:
        sentences = random.Random(seed).sample(sentences, max_sentences)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        byte_fallback=True,
        character_coverage=character_coverage,
        pad_id=PAD,
        eos_id=EOS,
        unk_id=UNK,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=2,
        max_sentence_length=4096,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = out_dir / SPM_FILE
    model_file.write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(str(model_file), str(model_file), str(out_dir / "vocab.json"))
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def load_tokenizer(folder: str | Path) -> MarianTokenizer:
    folder = Path(folder)
    if not (folder / "vocab.json").is_file() or not (folder / SPM_FILE).is_file():
        raise FileNotFoundError(
            f"{folder} holds no metanmt/Marian tokenizer (vocab.json and {SPM_FILE} expected)"
        )
    return MarianTokenizer.from_pretrained(str(folder))


def encode(
    tokenizer: MarianTokenizer, texts: Iterable[str], max_length: int = 256
) -> list[list[int]]:
    """Token ids ending in ``</s>``, as ``tokenizer(texts)`` gives, at sentencepiece's speed; a
    sentence longer than ``max_length`` tokens is cut to it."""
    return _encode(tokenizer, texts, max_length)[0]


def encode_pairs(
    tokenizer: MarianTokenizer, pairs: Sequence[tuple[str, str]], max_length: int, what: str = ""
) -> EncodedPairs:
    """Both sides of ``pairs`` encoded; what was cut to ``max_length`` is said in one line."""
    sources, cut_sources = _encode(tokenizer, [s for s, _ in pairs], max_length)
    # English by the target model: the same as the source one, unless the vocabulary was
    # extended for a new language (its pieces are for sources only)
    targets, cut_targets = _encode(tokenizer, [t for _, t in pairs], max_length, target=True)
    report_cut((cut_sources, cut_targets), len(pairs), max_length, what)
    return EncodedPairs(sources, targets)


def report_cut(cut: tuple[int, int], n: int, max_length: int, what: str) -> None:
    """One line saying how many sentences of each side were cut to ``max_length`` (if any)."""
    if (cut[0] or cut[1]) and what:
        log.warning(
            f"{what}: cut to max_length {max_length} tokens: {cut[0]} of {n} sources "
            f"({cut[0] / n:.1%}), {cut[1]} English ({cut[1] / n:.1%})"
        )


def _encode(tokenizer: MarianTokenizer, texts: Iterable[str], max_length: int, target=False):
    processor = tokenizer.spm_target if target else tokenizer.spm_source
    ids = processor.encode(list(texts))
    eos = tokenizer.eos_token_id
    cut = sum(len(seq) >= max_length for seq in ids)
    return [seq[: max_length - 1] + [eos] for seq in ids], cut


# A vocabulary that spells over half of a language's pieces in bytes was not made for it: the
# toy vocabulary (400 pieces) on real text, or a script the training languages lack (Korean
# through the cpu corpus' vocabulary: 88%, BENCHMARKS.md); Latvian and Turkish sit at 18-22%.
BYTE_SHARE_WARNING = 0.5


def byte_share(tokenizer: MarianTokenizer, texts: list[str]) -> float:
    """The share of ``texts``' source pieces that are byte-fallback pieces."""
    return vocabulary_report(tokenizer, {"": texts})[0]["byte_fallback_rate"]


def vocabulary_report(
    tokenizer: MarianTokenizer, texts_by_language: dict[str, list[str]]
) -> list[dict]:
    """Per language: unknown-token rate, byte-fallback rate and tokens per sentence."""
    processor = tokenizer.spm_source
    rows = []
    for language, texts in texts_by_language.items():
        ids = processor.encode(texts)
        total = sum(len(s) for s in ids) or 1
        unknown = sum(t == UNK for s in ids for t in s)
        byte = sum(processor.is_byte(t) for s in ids for t in s)
        rows.append(
            {
                "language": language,
                "sentences": len(texts),
                "tokens_per_sentence": round(total / max(len(texts), 1), 2),
                "unk_rate": unknown / total,
                "byte_fallback_rate": round(byte / total, 4),
            }
        )
    return rows
