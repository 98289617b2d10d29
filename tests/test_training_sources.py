"""Training sources named in a roles file, offline: local datasets in the hub's schemas (parquet
and Arrow folders that ``datasets.load_dataset`` reads), OPUS Moses files plain and zipped, a TSV,
two plain files, the hub path with the download mocked; malformed rows; the paper's roles file;
token ids on disk against tokenizing in memory."""

from __future__ import annotations

import zipfile
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metanmt.translation import CorpusError, LanguageRoles, load_corpus, load_roles, prepare_corpus
from metanmt.translation.data import streams
from metanmt.translation.data.filtering import SplitWriter, sentence_key
from metanmt.translation.data.languages import Track, parse_source
from metanmt.translation.data.prepare import prepare
from tests.test_corpus import make_layout, write

ROOT = Path(__file__).resolve().parents[1]
EVAL_TRACK = {
    "news": Track(
        dev_sets={"ro": "flores200-devtest", "ko": "park-dev"},
        test_sets={"ro": "newstest2016", "ko": "park-test"},
    )
}


def rows(batches) -> list:
    """A stream's Arrow batches as Python pairs (None for a malformed row)."""
    return [
        (s, t) if s is not None and t is not None else None
        for sources, targets in batches
        for s, t in zip(sources.to_pylist(), targets.to_pylist())
    ]


def hub_folder(folder: Path, configs: dict[str, list], fmt: str = "parquet") -> Path:
    """A dataset folder as the hub holds it: <config>/train-00000-of-00001.<fmt> per config and a
    README.md whose YAML declares the configs; rows {"translation": {...}} (or anything given)."""
    lines = ["---", "configs:"]
    for config, rows in configs.items():
        (folder / config).mkdir(parents=True, exist_ok=True)
        table = pa.table({"translation": rows})
        path = folder / config / f"train-00000-of-00001.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, path)
        else:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
        lines += [
            f"- config_name: {config}",
            "  data_files:",
            "  - split: train",
            f"    path: {config}/train-*",
        ]
    (folder / "README.md").write_text("\n".join(lines + ["---", ""]))
    return folder


GERMAN = [{"de": f"Satz nummer {i}.", "en": f"Sentence number {i}."} for i in range(6)]
MALFORMED = [{"de": None, "en": "No German."}, {"fr": "Pas allemand.", "en": "Not German."}]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The tiny mirror layout of test_corpus (dev/test sets) plus training sources of each kind."""
    root = make_layout(tmp_path_factory.mktemp("sources"))
    hub_folder(
        root / "Helsinki-NLP/europarl",
        {
            "de-en": GERMAN[:4]
            + MALFORMED
            + [
                GERMAN[0],  # a duplicate
                {"de": "HALLO, Welt!", "en": "flores one is here"},
            ],
            "cs-en": [{"cs": "Ahoj.", "en": "Hello."}],
        },
    )
    hub_folder(root / "arrow-copy", {"de-en": GERMAN[4:]}, fmt="arrow")
    write(root / "moses/Europarl.de-en.de", ["Guten Tag.", "Tschuess."])
    write(root / "moses/Europarl.de-en.en", ["Good day.", "Bye."])
    with zipfile.ZipFile(root / "de-en.txt.zip", "w") as archive:  # OPUS' moses download
        archive.writestr("Europarl.de-en.de", "Danke sehr.\nBitte.\n")
        archive.writestr("Europarl.de-en.en", "Thanks a lot.\nPlease.\n")
        archive.writestr("README", "the corpus' licence")
    write(
        root / "pairs.tsv",
        [
            "Eins.\tOne.",
            "no tab here",
            "a\tb\tc",
            "Zwei.\tTwo.",
            "Kurz.\tExtraordinarily incomprehensible circumlocutions.",
        ],
    )
    write(root / "plain.de", ["Drei."])
    write(root / "plain.en", ["Three."])
    return root


SOURCES = {
    "de": [
        "hf:Helsinki-NLP/europarl:de-en",
        "hf:arrow-copy:de-en",
        "moses:moses/Europarl.de-en",
        "moses:de-en.txt.zip",
        "tsv:pairs.tsv",
        "files:plain.de,plain.en",
    ],
    "cs": ["hf:Helsinki-NLP/europarl:cs-en@train"],
}


@pytest.fixture(scope="module")
def sourced(root, tmp_path_factory):
    roles = LanguageRoles(
        train=["de", "cs"], validation=["ro"], test=["ko"], tracks=EVAL_TRACK, sources=SOURCES
    )
    out = tmp_path_factory.mktemp("sourced") / "corpus"
    return prepare_corpus(root, out, roles, max_words=6, progress=False), load_corpus(out)


def test_every_kind_of_source_is_read_in_order_with_its_origin(sourced, root):
    manifest, corpus = sourced
    pairs = corpus.pairs("de", "train")
    assert pairs == [(g["de"], g["en"]) for g in GERMAN[:4]] + [
        (g["de"], g["en"]) for g in GERMAN[4:]
    ] + [
        ("Guten Tag.", "Good day."),
        ("Tschuess.", "Bye."),
        ("Danke sehr.", "Thanks a lot."),
        ("Bitte.", "Please."),
        ("Eins.", "One."),
        ("Zwei.", "Two."),
        ("Drei.", "Three."),
    ]
    origins = manifest["languages"]["de"]["splits"]["train"]["origins"]
    local = (root / "Helsinki-NLP/europarl").resolve()
    assert origins == {
        f"hf:{local}:de-en@train": 4,
        f"hf:{(root / 'arrow-copy').resolve()}:de-en@train": 2,
        "moses:moses/Europarl.de-en": 2,
        "moses:de-en.txt.zip": 2,
        "tsv:pairs.tsv": 2,
        "files:plain.de,plain.en": 1,
    }
    assert manifest["languages"]["de"]["sources"][0] == f"hf:{local}:de-en@train"
    assert corpus.pairs("cs", "train") == [("Ahoj.", "Hello.")]  # the mirror's sets are not read


def test_malformed_ratio_leaked_and_duplicate_rows_are_counted(sourced):
    manifest, _ = sourced
    # 2 malformed hub rows + 2 TSV lines without exactly one tab; the TSV's "Kurz." is 10x
    # shorter than its English; "HALLO, Welt!" / "flores one is here" is Romanian's FLORES dev
    # sentence up to case and punctuation; GERMAN[0] comes twice.
    assert manifest["languages"]["de"]["dropped"] == {
        "malformed": 4,
        "empty": 0,
        "too_long": 0,
        "ratio": 1,
        "leaked": 1,
        "duplicate": 1,
    }
    assert manifest["leakage_check"] == 0


def test_normalised_key_catches_case_space_and_punctuation():
    assert sentence_key("Hello,  World!") == sentence_key("hello world") != sentence_key("hello")
    assert sentence_key("...") != sentence_key("!!!")  # punctuation only: the exact text


def test_split_writer_keeps_first_of_duplicates(tmp_path):
    writer = SplitWriter(tmp_path / "x.arrow")
    writer.add_all([("a", "A", "s1"), ("b", "B", "s1"), ("a", "A", "s2"), ("c", "C", "s2")])
    data, stats, duplicates = writer.finish()
    assert data["source"] == ["a", "b", "c"] and duplicates == 1
    assert stats == {"pairs": 3, "english_words": 3, "origins": {"s1": 2, "s2": 1}}


def test_hub_path_reaches_load_dataset_streaming(root, monkeypatch):
    calls = []

    def fake_load_dataset(path, name=None, split=None, streaming=False):
        calls.append((path, name, split, streaming))
        return datasets.IterableDataset.from_generator(
            lambda: iter([{"translation": {"lv": "Labdien.", "en": "Good day."}}])
        )

    monkeypatch.setattr(streams.datasets, "load_dataset", fake_load_dataset)
    spec = parse_source("hf:wmt/wmt17:lv-en@train")
    assert rows(streams.read_source(spec, "lv", root)) == [("Labdien.", "Good day.")]
    assert calls == [("wmt/wmt17", "lv-en", "train", True)]  # no local copy: the hub id
    assert streams.describe(spec, root) == "hf:hub:wmt/wmt17:lv-en@train"


@pytest.mark.parametrize(
    "text, message",
    [
        ("europarl", "expected <kind>:<location>"),
        ("ftp:x", "unknown kind 'ftp'"),
        ("hf:", "nothing after hf:"),
        ("files:only-one", "files:<language file>,<English file>"),
        ("hf:x@", "expected hf:<id or folder>"),
    ],
)
def test_malformed_source_strings_are_refused(text, message):
    with pytest.raises(CorpusError, match=message):
        LanguageRoles(
            train=["de"], validation=["ro"], test=[], tracks=EVAL_TRACK, sources={"de": [text]}
        )


def test_source_of_a_language_without_role_is_refused():
    with pytest.raises(CorpusError, match="language 'fi' has no role"):
        LanguageRoles(
            train=["de"],
            validation=["ro"],
            test=[],
            tracks=EVAL_TRACK,
            sources={"fi": ["tsv:x.tsv"]},
        )


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "hf:Helsinki-NLP/europarl:cs-en",
            r"no well-formed row \(1 malformed\).*translation\['de'\]",
        ),
        ("hf:no/such-folder-here", "datasets.load_dataset"),
        ("moses:moses/Europarl.de-fr", "file not found"),
        ("tsv:missing.tsv", "file not found"),
        ("set:park-train", "has no set 'park-train'"),
    ],
)
def test_unreadable_sources_are_named(root, source, message, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # no network wait
    spec = parse_source(source)
    with pytest.raises(CorpusError, match=message):
        rows(streams.read_source(spec, "de", root))


def test_misaligned_moses_files_are_an_error_naming_them(root, tmp_path):
    write(tmp_path / "c.de-en.de", ["a", "b", "c"])
    write(tmp_path / "c.de-en.en", ["A", "B"])
    spec = parse_source(f"moses:{tmp_path / 'c.de-en'}")
    with pytest.raises(CorpusError, match=r"c.de-en.de has more lines than .*c.de-en.en"):
        rows(streams.read_source(spec, "de", root))


def test_paper_roles_prepare_from_local_copies_in_the_hub_layout(root, tmp_path):
    """languages_paper.yaml against copies at the hub ids' paths: every language reads its
    source (Europarl, WMT'16/17, the Park et al. train split), the news track only."""
    from tests.test_corpus import write_tar

    roles = load_roles(ROOT / "recipes/configs/languages_paper.yaml")
    assert list(roles.tracks) == ["news"] and set(roles.sources) == set(roles.languages())
    data, copies = tmp_path / "data", {}
    for lang in roles.languages():
        (spec,) = [parse_source(text) for text in roles.sources[lang]]
        if spec.kind == "hf":
            copies.setdefault(spec.location, {})[spec.config] = [
                {lang: f"{lang} sentence {i}.", "en": f"English {lang} {i}."} for i in range(3)
            ]
    for location, configs in copies.items():
        hub_folder(data / location, configs)
    park = data / "korean-parallel-corpora/korean-english-news-v1"
    write_tar(
        park / "korean-english-park.train.tar.gz",
        {
            "korean-english-park.train.ko": ["학교.", "집."],
            "korean-english-park.train.en": ["School.", "House."],
        },
    )
    for name in ("opus-mt-testsets", "korean-parallel-corpora/korean-english-news-v1"):
        for path in (root / name).rglob("*"):  # the dev and test sets
            if path.is_file() and not (data / path.relative_to(root)).exists():
                (data / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                (data / path.relative_to(root)).write_bytes(path.read_bytes())
    for code3, lang in (("lav", "lv"), ("fin", "fi"), ("tur", "tr")):  # their news sets
        flores = data / "opus-mt-testsets/testsets/flores200_dataset/devtest"
        write(flores / f"{'lvs' if lang == 'lv' else code3}.devtest", ["a", "b", "c"])
        write(data / f"opus-mt-testsets/testsets/{code3}-eng/newstest2017.{code3}", ["x"])
        write(data / f"opus-mt-testsets/testsets/{code3}-eng/newstest2017.eng", [f"{lang} t."])
    out = tmp_path / "paper"
    prepare(data, out, roles, vocab_size=600, num_proc=1, progress=False)
    corpus = load_corpus(out)
    assert corpus.pairs("de", "train")[0] == ("de sentence 0.", "English de 0.")
    assert corpus.pairs("ko", "pool") == [("학교.", "School."), ("집.", "House.")]
    assert sorted(corpus.splits("fi")) == ["news.dev", "news.test", "pool"]
    assert len(corpus.pairs("ru", "train")) == 3 and corpus.manifest["leakage_check"] == 0


def test_token_arrays_equal_tokenizing_in_memory(toy_corpus):
    """What training memory-maps is what tokenizing the text gives, cut the same way; a
    different vocabulary is never read from stale arrays."""
    from metanmt.translation.data.tokens import load_tokens
    from metanmt.translation.data.vocab import encode_pairs, load_tokenizer
    from metanmt.translation.family import TranslationConfig, TranslationFamily

    family = TranslationFamily(
        TranslationConfig(corpus=str(toy_corpus), model="tiny", max_length=12)
    )
    mapped = family.encoded("de", "train")
    assert isinstance(mapped.src, np.memmap)
    in_memory = encode_pairs(family.tokenizer, family.corpus.pairs("de", "train"), 12)
    assert len(mapped) == len(in_memory) and mapped.cut[1] > 0
    for i in range(len(mapped)):
        assert mapped.source(i).tolist() == in_memory.source(i).tolist()
        assert mapped.target(i).tolist() == in_memory.target(i).tolist()
    assert np.array_equal(mapped.by_length, in_memory.by_length)
    other = load_tokenizer(toy_corpus / "vocab").spm_source
    assert load_tokens(toy_corpus, "de", "train", other) is not None

    class Other:
        def serialized_model_proto(self):
            return b"another vocabulary"

    assert load_tokens(toy_corpus, "de", "train", Other()) is None


def test_cleaning_makes_white_space_one_space_and_composes():
    from metanmt.translation.data.filtering import clean

    assert clean(" a\u2028b\t\tc\u00a0d ") == "a b c d"
    assert clean("e\u0301") == "\u00e9"  # NFC


def test_dataset_without_translation_column_is_named(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    pq.write_table(pa.table({"de": ["Hallo."], "en": ["Hello."]}), folder / "train.parquet")
    with pytest.raises(CorpusError, match=r"no 'translation' column \(columns: de, en\)"):
        rows(streams.read_source(parse_source(f"hf:{folder}"), "de", None))


def test_toy_corpus_refuses_a_roles_file_with_sources(tmp_path):
    from metanmt.cli import main

    roles = tmp_path / "roles.yaml"
    roles.write_text("sources: {de: [tsv:x.tsv]}\n")
    assert main(["prepare", "--toy", "--roles", str(roles), "--out", str(tmp_path / "c")]) != 0
    assert not (tmp_path / "c").exists()


def test_corrupt_token_arrays_are_named(toy_corpus, tmp_path):
    import shutil

    from metanmt.translation.data.tokens import load_tokens
    from metanmt.translation.data.vocab import load_tokenizer

    copy = tmp_path / "corpus"
    shutil.copytree(toy_corpus, copy)
    (copy / "tokens/de/train.target_offsets.npy").write_bytes(b"not an array")
    processor = load_tokenizer(copy / "vocab").spm_source
    with pytest.raises(ValueError, match=r"train.target_offsets.npy: unreadable token array"):
        load_tokens(copy, "de", "train", processor)
