"""Translation into English: the task family, corpus preparation from public sources, the shared
sentencepiece vocabulary, MarianMT models, fine-tuning at word budgets, decoding, scoring, and the
``metanmt prepare | finetune | translate | score | compare`` commands.

A family over the core: it imports the core (registry, algorithms, trainer, evaluation) and the
core never imports it. Importing this package registers the family and its commands.
"""

from metanmt.translation.cli import add_translation_commands
from metanmt.translation.data.corpus import (
    Corpus,
    check_leakage,
    default_corpus_dir,
    format_table,
    load_corpus,
    prepare_corpus,
    write_corpus,
)
from metanmt.translation.data.languages import CorpusError, LanguageRoles, iso639_3, load_roles
from metanmt.translation.data.sources import download_sources, read_parallel, read_tsv
from metanmt.translation.family import TranslationConfig, TranslationFamily

__all__ = [
    "Corpus",
    "CorpusError",
    "LanguageRoles",
    "TranslationConfig",
    "TranslationFamily",
    "add_translation_commands",
    "check_leakage",
    "default_corpus_dir",
    "download_sources",
    "format_table",
    "iso639_3",
    "load_corpus",
    "load_roles",
    "prepare_corpus",
    "read_parallel",
    "read_tsv",
    "write_corpus",
]
