"""Translation into English: the task family, corpus preparation from public sources, the shared
sentencepiece vocabulary, MarianMT models, fine-tuning at word budgets, decoding, scoring, and what
the ``metanmt prepare | finetune | translate | score | compare | export`` commands run
(``metanmt/cli/``).

A family over the core: it imports the core (registry, algorithms, trainer, evaluation) and the
core never imports it. Importing ``metanmt.translation.family`` registers the family. The names
below load on first use; ``translation/settings.py`` (every setting, declared once) imports without
torch, so the CLI makes its flags from it before anything heavy loads.
"""

import importlib

_HOMES = {
    "Corpus": "metanmt.translation.data.corpus",
    "check_leakage": "metanmt.translation.data.corpus",
    "default_corpus_dir": "metanmt.translation.data.corpus",
    "format_table": "metanmt.translation.data.corpus",
    "load_corpus": "metanmt.translation.data.corpus",
    "prepare_corpus": "metanmt.translation.data.corpus",
    "write_corpus": "metanmt.translation.data.corpus",
    "CorpusError": "metanmt.translation.data.languages",
    "LanguageRoles": "metanmt.translation.data.languages",
    "iso639_3": "metanmt.translation.data.languages",
    "load_roles": "metanmt.translation.data.languages",
    "download_sources": "metanmt.translation.data.sources",
    "read_parallel": "metanmt.translation.data.sources",
    "read_tsv": "metanmt.translation.data.sources",
    "TranslationConfig": "metanmt.translation.family",
    "TranslationFamily": "metanmt.translation.family",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'metanmt.translation' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
