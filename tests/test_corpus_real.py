"""The translation corpus from the real shared data: no leakage, right splits and sizes, every rule.

The raw files are re-read here with a few lines of independent code, so the checks do not trust the
preparer's own readers.
"""

import shutil
import tarfile

import pytest
from conftest import real_data_folder

from metanmt.translation import (
    CorpusError,
    check_leakage,
    load_corpus,
    prepare_corpus,
    read_parallel,
)
from metanmt.translation.data.languages import part_of
from tests.test_corpus import FLORES_NAMES, ISO639_3  # the file names, independently of sources.py

EVALUATION = {
    "ro": ("ron-eng/newstest2016", "ron"),
    "lv": ("lav-eng/newstest2017", "lav"),
    "fi": ("fin-eng/newstest2017", "fin"),
    "tr": ("tur-eng/newstest2017", "tur"),
}


def raw_lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def raw_tar(path, suffix) -> list[str]:
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(suffix))
        return raw_lines(archive.extractfile(member).read())


@pytest.fixture(scope="module")
def root():
    real_data_folder("korean-parallel-corpora")
    return real_data_folder("opus-mt-testsets").parent


@pytest.fixture(scope="module")
def raw_evaluation(root):
    """(lang, "news.dev" | "news.test") -> raw (source, English) lines of the news track's sets."""
    testsets, sets = root / "opus-mt-testsets/testsets", {}
    english = raw_lines((testsets / "flores200_dataset/devtest/eng.devtest").read_bytes())
    for lang, (stem, code3) in EVALUATION.items():
        flores = testsets / f"flores200_dataset/devtest/{FLORES_NAMES[lang]}.devtest"
        sets[lang, "news.dev"] = list(zip(raw_lines(flores.read_bytes()), english))
        sets[lang, "news.test"] = list(
            zip(
                raw_lines((testsets / f"{stem}.{code3}").read_bytes()),
                raw_lines((testsets / f"{stem}.eng").read_bytes()),
            )
        )
    for split in ("dev", "test"):
        path = (
            root / f"korean-parallel-corpora/korean-english-news-v1/korean-english-park."
            f"{split}.tar.gz"
        )
        sets["ko", f"news.{split}"] = list(zip(raw_tar(path, ".ko"), raw_tar(path, ".en")))
    return sets


@pytest.fixture(scope="module")
def prepared(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("translation") / "corpus"
    manifest = prepare_corpus(root, out, progress=False)
    return manifest, load_corpus(out)


@pytest.fixture(scope="module")
def pairs(prepared):
    corpus = prepared[1]
    return {
        (lang, split): corpus.pairs(lang, split)
        for lang in corpus.languages()
        for split in corpus.splits(lang)
    }


def learning_splits(pairs):
    return {
        key: value
        for key, value in pairs.items()
        if key[1] in ("train", "pool") or key[1].endswith(".pool")
    }


def test_no_dev_or_test_sentence_reaches_training_or_a_pool(prepared, pairs, raw_evaluation, root):
    manifest, corpus = prepared
    assert manifest["leakage_check"] == 0 and check_leakage(corpus) == 0
    evaluation = {
        text.strip() for rows in raw_evaluation.values() for pair in rows for text in pair
    }
    evaluation.discard("")
    for key, rows in learning_splits(pairs).items():
        assert not {text for pair in rows for text in pair} & evaluation, key
    # FLORES is multi-way parallel: its English must be gone from every training language.
    flores = raw_lines(
        (root / "opus-mt-testsets/testsets/flores200_dataset/devtest/eng.devtest").read_bytes()
    )
    assert len(flores) == 1012
    for lang in corpus.languages("train"):
        assert not {target for _, target in pairs[lang, "train"]} & {s.strip() for s in flores}
        assert manifest["languages"][lang]["dropped"]["leaked"] >= 1012, lang
    # WMT17 shares its English-original half across language pairs, so Czech loses more than FLORES.
    assert manifest["languages"]["cs"]["dropped"]["leaked"] > 1012 + 1000


def test_all_23_languages_with_the_splits_of_their_role(prepared):
    manifest, corpus = prepared
    assert sorted(corpus.languages()) == sorted(ISO639_3) and len(corpus.languages()) == 23
    assert corpus.languages("validation") == ["ro", "lv"]
    assert corpus.languages("test") == ["fi", "tr", "ko"]
    for lang in corpus.languages():
        expected = (
            ["train"]
            if lang in corpus.languages("train")
            else ["news.dev", "news.test", "pool", "tatoeba.dev", "tatoeba.pool", "tatoeba.test"]
        )
        assert sorted(corpus.splits(lang)) == expected, lang


def test_dev_and_test_sets_are_the_raw_files_stripped_in_order(pairs, raw_evaluation):
    tested = {
        text
        for (lang, split), rows in pairs.items()
        if split.endswith(".test")
        for pair in rows
        for text in pair
    }
    removed = {}
    for (lang, split), raw in raw_evaluation.items():
        expected = [(s.strip(), t.strip()) for s, t in raw if s.strip() and t.strip()]
        assert len(expected) == len(raw)  # the real sets have no empty side
        if split.endswith(".dev"):  # a dev pair sharing a side with any test set is dropped
            kept = [p for p in expected if p[0] not in tested and p[1] not in tested]
            removed[lang] = len(expected) - len(kept)
            expected = kept
        assert pairs[lang, split] == expected, (lang, split)
    # Park et al.'s dev and test splits share 6 sentences; FLORES shares none with any test set.
    assert removed == {"ro": 0, "lv": 0, "fi": 0, "tr": 0, "ko": 6}
    assert [len(pairs[lang, "news.test"]) for lang in ("ro", "lv", "fi", "tr", "ko")] == [
        1999,
        2001,
        3002,
        3007,
        2000,
    ]


def test_korean_test_split_is_the_park_test_set(prepared, pairs, root):
    path = root / "korean-parallel-corpora/korean-english-news-v1/korean-english-park.test.tar.gz"
    park = list(zip(raw_tar(path, ".ko"), raw_tar(path, ".en")))
    assert pairs["ko", "news.test"] == [(s.strip(), t.strip()) for s, t in park]
    assert len(park) == 2000 and set(prepared[1].dataset("ko", "news.test")["origin"]) == {
        "park-test"
    }


def test_no_duplicate_no_empty_no_surrounding_space_no_overlong(pairs):
    for (lang, split), rows in pairs.items():
        texts = [text for pair in rows for text in pair]
        assert all(text and text == text.strip() for text in texts), (lang, split)
        if split in ("train", "pool") or split.endswith(".pool"):
            assert len(set(rows)) == len(rows), (lang, split)
            assert all(len(t) <= 1000 and len(t.split()) <= 100 for t in texts), (lang, split)


def test_stripping_keeps_pairs_whose_raw_lines_have_spaces(prepared, pairs, root):
    folder = root / "opus-mt-testsets/testsets/rus-eng"
    raw = list(
        zip(
            raw_lines((folder / "tatoeba-test-v2021-03-30.rus").read_bytes()),
            raw_lines((folder / "tatoeba-test-v2021-03-30.eng").read_bytes()),
        )
    )
    spaced = [(s, t) for s, t in raw if (s, t) != (s.strip(), t.strip())]
    assert len(spaced) > 5000  # the set has trailing spaces on about a third of its lines
    evaluation = {
        text
        for (lang, split), rows in pairs.items()
        if split.endswith((".dev", ".test"))
        for pair in rows
        for text in pair
    }
    train = set(pairs["ru", "train"])
    stripped = {(s.strip(), t.strip()) for s, t in spaced}
    kept = {p for p in stripped if p[0] not in evaluation and p[1] not in evaluation}
    assert kept <= train and len(kept) > 3000  # the rest share an English side with a test set
    assert not set(spaced) & train


def count_lines(path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def raw_pair_count(root, lang) -> int:
    """All raw pairs of a language, counted in the files: both directions, FLORES, NTREX, Korean."""
    code3, testsets = ISO639_3[lang], root / "opus-mt-testsets/testsets"
    count = sum(
        count_lines(path)
        for folder in (f"{code3}-eng", f"eng-{code3}")
        for path in (testsets / folder).glob(f"*.{code3}")
    )
    count += count_lines(testsets / f"flores200_dataset/devtest/{FLORES_NAMES[lang]}.devtest")
    ntrex = (
        root / f"opus-mt-testsets/datasets/microsoft/ntrex/NTREX/NTREX-128/"
        f"newstest2019-ref.{code3}.txt"
    )
    count += count_lines(ntrex) if ntrex.exists() else 0
    if lang == "ko":
        korean = root / "korean-parallel-corpora"
        count += sum(len(raw_tar(path, ".ko")) for path in korean.glob("*/*.tar.gz"))
        count += sum(count_lines(path) for path in korean.glob("korean-english-jhe/*.ko"))
    return count


def test_every_raw_pair_is_kept_or_counted_as_dropped(prepared, root):
    manifest = prepared[0]
    for lang, info in manifest["languages"].items():
        # parts of a set (tatoeba.*) and track pools are views of pairs counted in the pool
        kept = sum(
            split["pairs"]
            for name, split in info["splits"].items()
            if not name.startswith("tatoeba.")
        )
        assert kept + sum(info["dropped"].values()) == raw_pair_count(root, lang), lang
    totals = {
        reason: sum(info["dropped"][reason] for info in manifest["languages"].values())
        for reason in ("empty", "too_long", "leaked", "duplicate")
    }
    assert totals["empty"] == 0  # the shared copy has no empty line
    assert 50 < totals["too_long"] < 1000 and totals["duplicate"] > 500_000  # Tatoeba releases


def test_counts_are_plausible_and_pools_leave_out_evaluation_sets(prepared):
    languages = prepared[0]["languages"]
    for lang, info in languages.items():
        main = info["splits"].get("train") or info["splits"]["pool"]
        assert main["pairs"] > 1_500, lang  # Slovak, from NTREX only, is the smallest (~2k)
        assert main["english_words"] > 5 * main["pairs"], lang  # Tatoeba sentences are short
    assert languages["de"]["splits"]["train"]["pairs"] > 50_000
    origins = languages["ro"]["splits"]["pool"]["origins"]
    assert "newstest2016" not in origins and "flores200-devtest" not in origins
    assert "eng-ron/newstest2016" not in origins  # the other direction of the test set: leaked
    assert "park-test" not in languages["ko"]["splits"]["pool"]["origins"]


def test_real_files_of_different_length_are_named(root, tmp_path):
    source = root / "opus-mt-testsets/testsets/ron-eng/newstest2016.ron"
    short = tmp_path / "newstest2016.eng"
    shutil.copy(source.with_suffix(".eng"), short)
    short.write_bytes(b"".join(short.read_bytes().splitlines(keepends=True)[:-5]))
    with pytest.raises(
        CorpusError,
        match=r"newstest2016.ron has 1999 lines.*newstest2016.eng "
        r"has 1994",
    ):
        read_parallel(source, short)


def test_the_tatoeba_track_splits_one_release_with_dev_and_test_apart(prepared, root):
    manifest, corpus = prepared
    roles, tested, deved, pooled = corpus.roles, set(), set(), set()
    for lang in ("ro", "lv", "fi", "tr", "ko"):
        pool, dev, test = corpus.track_pairs(lang, "tatoeba")
        code3 = ISO639_3[lang]
        folder = root / f"opus-mt-testsets/testsets/{code3}-eng"
        raw = list(
            zip(
                raw_lines((folder / f"tatoeba-test-v2021-08-07.{code3}").read_bytes()),
                raw_lines((folder / "tatoeba-test-v2021-08-07.eng").read_bytes()),
            )
        )
        raw_test = [
            (s.strip(), e.strip())
            for s, e in raw
            if part_of(e.strip(), roles.parts) == "test" and s.strip() and e.strip()
        ]
        assert test == raw_test, lang  # the release's test part, in file order
        assert 0.3 < len(test) / len(raw) < 0.4 and len(dev) > 100 and len(pool) > 500, lang
        assert {part_of(e, roles.parts) for _, e in dev} == {"dev"}
        assert {part_of(e, roles.parts) for _, e in pool} == {"pool"}
        tested |= {t for pair in test for t in pair}
        deved |= {t for pair in dev for t in pair}
        pooled |= {t for pair in pool for t in pair}
    # Tatoeba releases overlap and share English sentences across languages: dev and test stay
    # apart, and no pool (of any language) holds a dev or test sentence.
    assert not tested & deved and not pooled & (tested | deved)
    assert manifest["leakage_check"] == check_leakage(corpus) == 0
    assert manifest["languages"]["lv"]["splits"]["tatoeba.pool"]["origins"] == {
        "tatoeba-test-v2021-08-07%pool": manifest["languages"]["lv"]["splits"]["tatoeba.pool"][
            "pairs"
        ]
    }
