"""The translation substrate: languages and their roles, corpus preparation and reading."""
from metanmt.nmt.corpus import (Corpus, check_leakage, default_corpus_dir, format_table,
                                load_corpus, prepare_corpus, write_corpus)
from metanmt.nmt.languages import CorpusError, LanguageRoles, iso639_3, load_roles
from metanmt.nmt.sources import download_sources, read_parallel, read_tsv

__all__ = ["Corpus", "CorpusError", "LanguageRoles", "check_leakage", "default_corpus_dir",
           "download_sources", "format_table", "iso639_3", "load_corpus", "load_roles",
           "prepare_corpus", "read_parallel", "read_tsv", "write_corpus"]
