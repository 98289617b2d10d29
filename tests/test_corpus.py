"""Corpus preparation on made-up layouts: every rule, every error, atomic output, the download."""

import io
import json
import logging
import runpy
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metanmt.translation import (
    CorpusError,
    LanguageRoles,
    check_leakage,
    load_corpus,
    load_roles,
    prepare_corpus,
    read_parallel,
    read_tsv,
    write_corpus,
)
from metanmt.translation.data.corpus import format_table
from metanmt.translation.data.languages import Track, iso639_3, language_name, part_of
from metanmt.translation.data.sources import expected_path, file_code, language_sets

ROOT = Path(__file__).resolve().parents[1]


def _write_language(folder: Path, splits: dict) -> None:
    """A language folder as the preparation writes it, from rows (source, English, origin)."""
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            split: Dataset.from_dict(
                {
                    "source": [r[0] for r in rows],
                    "target": [r[1] for r in rows],
                    "origin": [r[2] for r in rows],
                }
            )
            for split, rows in splits.items()
        }
    ).save_to_disk(str(folder), num_shards=dict.fromkeys(splits, 1))


FLORES_EN = ["Flores one is here.", "Flores two is here.", "Flores three is here."]
RO_TEST = [
    ("Ro test one.", "Test one."),
    ("  Ro test two.", " Test two. "),
    ("", "Test three."),
    ("Ro test one.", "Test one."),
]  # an empty side, and a repeat that a test set keeps
DE_NEWS = [
    ("  Hallo Welt.  ", "Hello world. "),
    ("", "Nothing."),
    ("Ein langer Satz mit sehr vielen Woertern hier.", "A long sentence."),  # 8 > 6 words
    ("Test eins.", "Test one."),  # English side of the Romanian test set: leaked
    ("deu flores 1", "Flores two is here."),  # FLORES is Romanian's dev set: leaked
    ("Danke.", "Thanks."),
]
ROLES = LanguageRoles(
    train=["de", "cs"],
    validation=["ro"],
    test=["ko"],
    tracks={
        "news": Track(
            dev_sets={"ro": "flores200-devtest", "ko": "park-dev"},
            test_sets={"ro": "newstest2016", "ko": "park-test"},
        )
    },
)


# The table that languages.py held before any ISO code was accepted (and that the mirror's file
# names follow): each of today's 23 languages must still map to exactly these.
ISO639_3 = {
    "bg": "bul",
    "cs": "ces",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "es": "spa",
    "et": "est",
    "fr": "fra",
    "hu": "hun",
    "it": "ita",
    "lt": "lit",
    "nl": "nld",
    "pl": "pol",
    "pt": "por",
    "sk": "slk",
    "sl": "slv",
    "sv": "swe",
    "ru": "rus",
    "ro": "ron",
    "lv": "lav",
    "fi": "fin",
    "tr": "tur",
    "ko": "kor",
}
# FLORES-200 names Standard Latvian, not the macrolanguage.
FLORES_NAMES = {**ISO639_3, "lv": "lvs"}


def write(path: Path, lines) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_set(root: Path, folder: str, stem: str, code3: str, pairs) -> None:
    write(root / "opus-mt-testsets/testsets" / folder / f"{stem}.{code3}", [p[0] for p in pairs])
    write(root / "opus-mt-testsets/testsets" / folder / f"{stem}.eng", [p[1] for p in pairs])


def write_tar(path: Path, members: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, lines in members.items():
            data = "".join(f"{line}\n" for line in lines).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def make_layout(root: Path) -> Path:
    """A tiny copy of the shared data layout, with one case of every rule."""
    flores = root / "opus-mt-testsets/testsets/flores200_dataset/devtest"
    write(flores / "eng.devtest", FLORES_EN)
    for code3 in ("deu", "ces", "ron", "kor"):
        write(flores / f"{code3}.devtest", [f"{code3} flores {i}" for i in range(3)])
    ntrex = root / "opus-mt-testsets/datasets/microsoft/ntrex/NTREX/NTREX-128"
    write(ntrex / "newstest2019-src.eng.txt", ["News one.", "News two."])
    write(ntrex / "newstest2019-ref.deu.txt", ["Nachricht eins.", "Nachricht zwei."])
    write_set(root, "ron-eng", "newstest2016", "ron", RO_TEST)
    write_set(root, "eng-ron", "newstest2016", "ron", RO_TEST)  # the other direction: leaked
    write_set(
        root,
        "ron-eng",
        "tatoeba-test-v2021-08-07",
        "ron",
        [
            ("Salut.", "Hi."),
            ("Salut.", "Hi."),
            ("Mersi.", "Thank you."),
            ("ron flores 0", "Something."),
            ("Unu.", "Flores one is here."),
        ],
    )
    write_set(root, "deu-eng", "newstest2009", "deu", DE_NEWS)
    write_set(root, "eng-deu", "newstest2009", "deu", DE_NEWS)
    write_set(
        root,
        "deu-eng",
        "tatoeba-test-v2021-08-07",
        "deu",
        [("Danke.", "Thanks."), ("Ja.", "Yes."), ("a" * 1001, "Long.")],
    )
    write(
        root / "opus-mt-testsets/testsets/deu-eng/tatoeba-test-v2021-08-07.deu.labels",
        ["deu", "deu", "deu"],
    )
    write_set(root, "ces-eng", "newstest2009", "ces", [("Ahoj.", "Hello."), ("Dobre.", "Fine.")])
    korean = root / "korean-parallel-corpora"
    for split, count in (("dev", 2), ("test", 3)):
        name = f"korean-english-park.{split}"
        write_tar(
            korean / f"korean-english-news-v1/{name}.tar.gz",
            {
                f"{name}.ko": [f"ko {split} {i}" for i in range(count)],
                f"{name}.en": [f"Korean {split} {i}." for i in range(count)],
            },
        )
    write(korean / "korean-english-jhe/jhe-koen-dev.ko", ["안녕.", "고마워."])
    write(korean / "korean-english-jhe/jhe-koen-dev.en", ["Hi there.", "Thanks a lot."])
    return root


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_layout(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def prepared(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "corpus"
    manifest = prepare_corpus(source, out, ROLES, max_words=6, progress=False)
    return out, manifest, load_corpus(out)


def test_splits_columns_and_origins(prepared):
    out, manifest, corpus = prepared
    assert corpus.languages() == ["de", "cs", "ro", "ko"] and corpus.languages("test") == ["ko"]
    assert corpus.splits("de") == ["train"]
    assert sorted(corpus.splits("ro")) == ["news.dev", "news.test", "pool"]
    data = corpus.dataset("de", "train")
    assert data.column_names == ["source", "target", "origin"]
    assert set(data["origin"]) == {"newstest2009", "tatoeba-test-v2021-08-07", "ntrex128"}
    assert corpus.pairs("ko", "news.test") == [
        (f"ko test {i}", f"Korean test {i}.") for i in range(3)
    ]
    assert corpus.pairs("ko", "pool") == [("안녕.", "Hi there."), ("고마워.", "Thanks a lot.")]
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["format_version"] == 2 and saved["leakage_check"] == 0
    assert saved["roles"]["tracks"]["news"]["test_sets"] == {
        "ro": "newstest2016",
        "ko": "park-test",
    }
    assert saved["languages"]["de"]["splits"]["train"]["english_words"] == 8


def test_training_pairs_follow_every_rule_with_counted_drops(prepared):
    _, manifest, corpus = prepared
    assert corpus.pairs("de", "train") == [
        ("Hallo Welt.", "Hello world."),
        ("Danke.", "Thanks."),
        ("Ja.", "Yes."),
        ("Nachricht eins.", "News one."),
        ("Nachricht zwei.", "News two."),
    ]
    # Both directions of newstest2009 count their empty, long and leaked pairs; FLORES leaks 3 more.
    assert manifest["languages"]["de"]["dropped"] == {
        "malformed": 0,
        "empty": 2,
        "too_long": 3,
        "ratio": 0,
        "leaked": 7,
        "duplicate": 3,
    }
    assert corpus.pairs("cs", "train") == [("Ahoj.", "Hello."), ("Dobre.", "Fine.")]
    assert manifest["languages"]["cs"]["dropped"]["leaked"] == 3


def test_pool_leaves_out_own_dev_test_and_every_evaluation_sentence(prepared):
    _, manifest, corpus = prepared
    assert corpus.pairs("ro", "pool") == [("Salut.", "Hi."), ("Mersi.", "Thank you.")]
    assert manifest["languages"]["ro"]["dropped"] == {
        "malformed": 0,
        "empty": 2,
        "too_long": 0,
        "ratio": 0,
        "leaked": 5,
        "duplicate": 1,
    }
    assert manifest["languages"]["ko"]["dropped"]["leaked"] == 3  # kor FLORES: Romanian's dev set


def test_dev_and_test_sets_are_only_stripped(prepared):
    _, manifest, corpus = prepared
    assert corpus.pairs("ro", "news.test") == [
        ("Ro test one.", "Test one."),
        ("Ro test two.", "Test two."),
        ("Ro test one.", "Test one."),
    ]  # order kept
    assert corpus.pairs("ro", "news.dev") == [(f"ron flores {i}", FLORES_EN[i]) for i in range(3)]
    assert set(corpus.dataset("ro", "news.test")["origin"]) == {"newstest2016"}
    assert corpus.track_pairs("ro") == (
        corpus.pairs("ro", "pool"),
        corpus.pairs("ro", "news.dev"),
        corpus.pairs("ro", "news.test"),
    )


def test_check_leakage_finds_a_planted_sentence(prepared, tmp_path):
    out, _, corpus = prepared
    assert check_leakage(out) == check_leakage(corpus) == 0
    copy = tmp_path / "copy"
    for item in out.iterdir():
        (copy / item.name).parent.mkdir(parents=True, exist_ok=True)
        if item.is_file():
            (copy / item.name).write_bytes(item.read_bytes())
    for lang in ("ro", "ko"):
        _write_language(
            copy / lang,
            {s: [(*p, "x") for p in corpus.pairs(lang, s)] for s in corpus.splits(lang)},
        )
    planted = [("Ahoj.", "Hello."), ("x", "Korean dev 1."), ("Test one.", "y")]  # ko dev, ro test
    _write_language(copy / "cs", {"train": [(*pair, "x") for pair in planted]})
    _write_language(copy / "de", {"train": [("a", "b", "x")]})
    assert check_leakage(copy) == 2


def test_write_corpus_checks_splits_and_leakage_before_replacing(prepared, tmp_path):
    corpus, out = prepared[2], tmp_path / "written"
    splits = {
        lang: {
            split: [(*pair, "copy") for pair in corpus.pairs(lang, split)]
            for split in corpus.splits(lang)
        }
        for lang in corpus.languages()
    }
    manifest = write_corpus(out, ROLES, splits, source="a test")
    assert manifest["leakage_check"] == 0 and load_corpus(out).pairs("cs", "train") == corpus.pairs(
        "cs", "train"
    )
    splits["cs"]["train"].append(("Korean test 2.", "planted", "copy"))
    with pytest.raises(CorpusError, match="leakage check failed: 1 dev/test sentences"):
        write_corpus(out, ROLES, splits, source="a test")
    del splits["ko"]["pool"]
    with pytest.raises(
        CorpusError,
        match=r"'ko' \(test\) needs the splits "
        r"\['news.dev', 'news.test', 'pool'\]",
    ):
        write_corpus(out, ROLES, splits, source="a test")
    assert len(load_corpus(out).pairs("cs", "train")) == 2  # the first corpus is still there


def test_format_table_lists_every_language_and_a_total(prepared):
    table = format_table(prepared[1])
    assert [line.split()[0] for line in table.splitlines()[2:6]] == ["de", "cs", "ro", "ko"]
    # train/pool: de 5 + cs 2 + ro 2 + ko 2; the news track: dev/test pairs of ro and ko
    assert table.splitlines()[-1].split()[:2] == ["all", "11"]
    assert table.splitlines()[4].split()[-1] == "3/3" and table.splitlines()[5].split()[-1] == "2/3"


def test_failed_preparation_leaves_the_existing_corpus(prepared, source, tmp_path):
    out = tmp_path / "corpus"
    prepare_corpus(source, out, ROLES, max_words=6, progress=False)
    before = load_corpus(out).pairs("de", "train")
    broken = make_layout(tmp_path / "broken")
    write(broken / "opus-mt-testsets/testsets/ces-eng/newstest2009.eng", ["only one line"])
    with pytest.raises(CorpusError, match=r"newstest2009.ces has 2 lines.*newstest2009.eng has 1"):
        prepare_corpus(broken, out, ROLES, progress=False)
    assert load_corpus(out).pairs("de", "train") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "corpus"]  # no .tmp left
    prepare_corpus(source, out, ROLES, max_words=100, progress=False)  # a good run replaces it
    assert ("Ein langer Satz mit sehr vielen Woertern hier.", "A long sentence.") in load_corpus(
        out
    ).pairs("de", "train")


def test_refuses_to_replace_a_folder_that_is_not_a_corpus(source, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="refusing to replace"):
        prepare_corpus(source, tmp_path, ROLES, progress=False)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda r: (r / "opus-mt-testsets/testsets/deu-eng/newstest2009.deu").write_bytes(
                b"ok\n\xff\xfe bad\n" + b"x\n" * 4
            ),
            r"newstest2009.deu: invalid UTF-8 on line 2",
        ),
        (
            lambda r: (r / "opus-mt-testsets/testsets/deu-eng/newstest2009.eng").write_bytes(b""),
            r"newstest2009.eng: empty file",
        ),
        (
            lambda r: (r / "opus-mt-testsets/testsets/ron-eng/newstest2016.ron").unlink(),
            r"newstest2016.eng has no companion .*ron-eng/newstest2016.ron",
        ),
        (
            lambda r: [
                p.unlink() for p in (r / "opus-mt-testsets/testsets/ron-eng").glob("newstest*")
            ],
            r"set 'newstest2016' of 'ro' not found: expected .*ron-eng/newstest2016.ron",
        ),
        (
            lambda r: (
                r / "korean-parallel-corpora/korean-english-news-v1/korean-english-park.dev.tar.gz"
            ).unlink(),
            r"set 'park-dev' of 'ko' not found: expected .*park.dev.tar.gz",
        ),
    ],
)
def test_bad_raw_data_is_named(tmp_path, damage, message):
    root = make_layout(tmp_path / "raw")
    damage(root)
    with pytest.raises(CorpusError, match=message):
        prepare_corpus(root, tmp_path / "out", ROLES, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"train": ["de", "xx"]}, r"unknown language code 'xx': give an ISO 639-1 code"),
        ({"train": ["UK"]}, r"unknown language code 'UK'.*codes are lower case: 'uk'"),
        ({"test": ["kor_Hang"]}, r"'kor_Hang'.*a script or region .* is not part of it"),
        ({"train": ["ger"]}, r"'ger' is the ISO 639-2/B code of German: use 'de'"),
        ({"train": ["mul"]}, r"'mul' names no language \(Multiple languages\)"),
        ({"train": ["iw"]}, r"'iw' is retired: .*Use \[he\] instead"),
        ({"train": ["de", "en"]}, r"'en' in role 'train' is English, which every language is"),
        ({"train": ["de", "deu"]}, r"'de' and 'deu' \(role 'train'\) are one language, German"),
        ({"tracks": {"news": {"dev_sets": {"xx": "a"}}}}, r"unknown language code 'xx'"),
        ({"train": ["de", "de"]}, r"'de' is given twice in role 'train'"),
        ({"train": ["de", "ro"]}, r"'ro' is given in 'train' and in role 'validation'"),
        (
            {"train": ["de"], "validation": ["ro", "sk"]},
            r"validation language 'sk' has no entry in 'dev_sets'",
        ),
        ({"test_sets": {"ko": None}}, r"track 'news': test_sets\['ko'\] must hold set ids"),
        ({"tracks": {"tatoeba": {"dev_sets": {"ro": "x%half"}}}}, r"after % must be one of test"),
        (
            {"tracks": {"tatoeba": {"dev_set": {}}}},
            r"track 'tatoeba' has unknown keys \['dev_set'\]",
        ),
        ({"parts": {"test": 0.6, "dev": 0.5}}, r"parts must give test and dev fractions"),
        ({"tets": ["fi"]}, r"unknown key 'tets'; valid keys: train, validation, test"),
    ],
)
def test_bad_roles_are_named(tmp_path, values, message):
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(CorpusError, match=message):
        load_roles(path)


def test_default_roles_equal_the_recipe_yaml_and_yaml_only_overrides(tmp_path):
    assert load_roles(ROOT / "recipes/configs/languages.yaml") == load_roles() == LanguageRoles()
    roles = load_roles()
    assert len(roles.train) == 18 and roles.validation == ["ro", "lv"]
    news = roles.tracks["news"]
    assert news.test_sets["lv"] == "newstest2017" and news.dev_sets["ko"] == "park-dev"
    assert roles.tracks["tatoeba"].test_sets["ro"] == "tatoeba-test-v2021-08-07%test"
    path = tmp_path / "roles.yaml"
    path.write_text("test_sets: {ko: jhe-dev}\n")  # the format before tracks: the news track's
    changed = load_roles(path)
    assert changed.tracks["news"].test_sets["ko"] == "jhe-dev"
    assert changed.tracks["news"].test_sets["fi"] == "newstest2017"
    assert changed.train == roles.train and "tatoeba" in changed.tracks
    path.write_text("tracks: {tatoeba: null}\n")
    assert list(load_roles(path).tracks) == ["news"]


def test_load_corpus_names_what_is_missing(prepared, tmp_path):
    with pytest.raises(CorpusError, match="is not a prepared corpus"):
        load_corpus(tmp_path)
    corpus = prepared[2]
    with pytest.raises(
        CorpusError, match=r"'fi' \(Finnish\) is not a language of the corpus.*de, cs, ro, ko"
    ):
        corpus.pairs("fi", "news.test")
    with pytest.raises(CorpusError, match=r"'de' has no split 'pool'.*it has: train"):
        corpus.pairs("de", "pool")
    with pytest.raises(CorpusError, match="unknown role 'dev'"):
        corpus.languages("dev")


# ---------------------------------------------------------------- user-supplied parallel data


def test_reader_errors_name_file_line_and_counts(tmp_path):
    a, b, tsv = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "p.tsv"
    write(a, ["one", "two", "three"])
    write(b, ["uno", "dos"])
    with pytest.raises(CorpusError, match=r"a.txt has 3 lines, .*b.txt has 2"):
        read_parallel(a, b)
    b.write_bytes(b"")
    with pytest.raises(CorpusError, match=r"b.txt: empty file"):
        read_parallel(a, b)
    b.write_bytes("uno\ndos\ntr\u00e9s".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"b.txt: invalid UTF-8 on line 3"):
        read_parallel(a, b)
    write(tsv, ["one\tuno", "two dos", "three\ttres"])
    with pytest.raises(CorpusError, match=r"p.tsv: line 2 has 0 tabs"):
        read_tsv(tsv)
    write(tsv, ["one\tuno", "two\tdos\textra"])
    with pytest.raises(CorpusError, match=r"p.tsv: line 2 has 2 tabs"):
        read_tsv(tsv)


def test_readers_keep_inner_line_separators_and_drop_empty_pairs(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Za\u0085d\u2028en \n\n  x\r\n", encoding="utf-8")  # no newline split on U+0085
    b.write_text("one\ntwo\nthree", encoding="utf-8")  # last line without a newline
    assert read_parallel(a, b) == [("Za\u0085d\u2028en", "one"), ("x", "three")]
    assert len(read_parallel(a, b, drop_empty=False)) == 3


TEXT = st.text(
    st.characters(blacklist_characters="\n\t\ufeff", blacklist_categories=("Cs",)), max_size=20
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8))
def test_readers_round_trip_random_pairs(tmp_path_factory, pairs):
    folder = tmp_path_factory.mktemp("pairs")
    expected = [(s.strip(), t.strip()) for s, t in pairs if s.strip() and t.strip()]
    (folder / "src").write_bytes("".join(s + "\n" for s, _ in pairs).encode())
    (folder / "tgt").write_bytes("".join(t + "\n" for _, t in pairs).encode())
    (folder / "pairs.tsv").write_bytes("".join(f"{s}\t{t}\n" for s, t in pairs).encode())
    assert read_parallel(folder / "src", folder / "tgt") == expected
    assert read_tsv(folder / "pairs.tsv") == expected


def test_pairs_with_an_empty_side_are_counted_when_dropped(tmp_path, caplog, monkeypatch):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("a\tA\n\tB\nc\tC\nd\t \ne\tE\n")
    monkeypatch.setattr(logging.getLogger("metanmt"), "propagate", True)  # (the CLI's: False)
    with caplog.at_level(logging.INFO, logger="metanmt"):
        assert read_tsv(tsv) == [("a", "A"), ("c", "C"), ("e", "E")]
    assert f"{tsv}: dropped 2 of 5 pairs with an empty side (lines 2, 4)" in caplog.messages


# ---------------------------------------------------------------- download and script


class FakeGitHub:
    """Serves a local layout as GitHub's trees API and raw.githubusercontent.com would."""

    def __init__(self, root: Path):
        self.root, self.urls = root, []
        self.repos = {
            "Helsinki-NLP/OPUS-MT-testsets": root / "opus-mt-testsets",
            "jungyeul/korean-parallel-corpora": root / "korean-parallel-corpora",
        }

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        api = "https://api.github.com/repos/Helsinki-NLP/OPUS-MT-testsets/git/trees/master:"
        if url.startswith(api):
            folder = self.root / "opus-mt-testsets" / url[len(api) :]
            if not folder.is_dir():
                raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
            tree = [{"path": p.name, "type": "blob"} for p in sorted(folder.iterdir())]
            return io.BytesIO(json.dumps({"tree": tree, "truncated": False}).encode())
        for repo, folder in self.repos.items():
            prefix = f"https://raw.githubusercontent.com/{repo}/master/"
            if url.startswith(prefix) and (folder / url[len(prefix) :]).is_file():
                return io.BytesIO((folder / url[len(prefix) :]).read_bytes())
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)


def test_without_source_it_downloads_the_same_layout(source, prepared, tmp_path, monkeypatch):
    github = FakeGitHub(source)
    monkeypatch.setattr(urllib.request, "urlopen", github)
    monkeypatch.delenv("METANMT_DATA", raising=False)
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    prepare_corpus(None, tmp_path / "out", ROLES, max_words=6, progress=False)
    cache = tmp_path / "cache" / "translation-sources"
    assert (
        "https://api.github.com/repos/Helsinki-NLP/OPUS-MT-testsets/git/trees/"
        "master:testsets/deu-eng" in github.urls
    )
    assert (
        "https://raw.githubusercontent.com/jungyeul/korean-parallel-corpora/master/"
        "korean-english-news-v1/korean-english-park.test.tar.gz" in github.urls
    )
    assert (cache / "opus-mt-testsets/testsets/eng-deu/newstest2009.deu").read_bytes() == (
        source / "opus-mt-testsets/testsets/eng-deu/newstest2009.deu"
    ).read_bytes()
    assert not list(cache.rglob("*.labels")) and not list(cache.rglob("*.part"))
    downloaded, local = load_corpus(tmp_path / "out"), prepared[2]
    for lang in local.languages():
        for split in local.splits(lang):
            assert downloaded.pairs(lang, split) == local.pairs(lang, split), (lang, split)
    github.urls.clear()
    prepare_corpus(None, tmp_path / "out", ROLES, max_words=6, progress=False)
    assert github.urls == []  # everything came from the cache


def test_download_without_network_says_what_to_do(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.delenv("METANMT_DATA", raising=False)
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path))
    with pytest.raises(
        CorpusError,
        match=r"^download failed: https://api.github.com/.*deu-eng: "
        r"no route to host \(no network\? give --source",
    ):
        prepare_corpus(None, tmp_path / "out", ROLES, progress=False)


def test_script_prepares_from_source_with_a_roles_file(source, tmp_path, monkeypatch, caplog):
    roles = tmp_path / "roles.yaml"
    roles.write_text(
        yaml.safe_dump(
            {
                "train": ["de", "cs"],
                "validation": ["ro"],
                "test": ["ko"],
                "tracks": {"tatoeba": None},
            }
        )
    )  # the layout has no ko Tatoeba
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "prepare_translation.py",
            "--source",
            str(source),
            "--out",
            str(tmp_path / "out"),
            "--roles",
            str(roles),
            "--max-words",
            "6",
        ],
    )
    monkeypatch.setattr(logging.getLogger("metanmt"), "propagate", True)  # (the CLI's: False)
    with caplog.at_level(logging.INFO, logger="metanmt"):
        runpy.run_path(str(ROOT / "data_scripts/prepare_translation.py"), run_name="__main__")
    assert "leakage check: 0" in caplog.text
    assert load_corpus(tmp_path / "out").pairs("ro", "pool") == [
        ("Salut.", "Hi."),
        ("Mersi.", "Thank you."),
    ]


TATOEBA = "tatoeba-test-v2021-08-07"


def test_a_track_of_set_parts_keeps_dev_test_and_pool_apart(tmp_path):
    """A track whose dev, test and pool are parts of one release, split by a hash of the English
    side: an English sentence is in the same part for every language, a dev pair sharing a side
    with any test set is dropped, and pools hold no dev or test sentence."""
    root = make_layout(tmp_path / "raw")
    english = [f"Sentence number {i} here." for i in range(300)]
    write_set(
        root,
        "ron-eng",
        TATOEBA,
        "ron",
        [(f"ro {i}", e) for i, e in enumerate(english)] + [("ro shared", english[0])],
    )  # a second Romanian side of an English sentence
    write_set(
        root,
        "kor-eng",
        TATOEBA,
        "kor",
        [(f"ko {i}", e) for i, e in enumerate(english[::2])]
        + [("ro 1", "A Korean row with a Romanian side.")],
    )
    tatoeba = Track(
        {lang: f"{TATOEBA}%dev" for lang in ("ro", "ko")},
        {lang: f"{TATOEBA}%test" for lang in ("ro", "ko")},
        {lang: [f"{TATOEBA}%pool"] for lang in ("ro", "ko")},
    )
    roles = LanguageRoles(
        train=["de", "cs"],
        validation=["ro"],
        test=["ko"],
        tracks={**ROLES.tracks, "tatoeba": tatoeba},
    )
    manifest = prepare_corpus(root, tmp_path / "out", roles, max_words=6, progress=False)
    corpus = load_corpus(tmp_path / "out")
    assert manifest["leakage_check"] == check_leakage(corpus) == 0
    parts = {}
    for lang in ("ro", "ko"):
        pool, dev, test = corpus.track_pairs(lang, "tatoeba")
        for part, pairs in (("pool", pool), ("dev", dev), ("test", test)):
            assert pairs and {part_of(e, roles.parts) for _, e in pairs} == {part}, (lang, part)
            parts.setdefault(part, set()).update(e for _, e in pairs)
        assert set(corpus.dataset(lang, "tatoeba.pool")["origin"]) == {f"{TATOEBA}%pool"}
        general = {text for pair in corpus.pairs(lang, "pool") for text in pair}
        assert not general & {text for pair in dev + test for text in pair}
    assert not parts["test"] & parts["dev"] and not parts["pool"] & (parts["test"] | parts["dev"])
    tested = {
        text
        for lang in ("ro", "ko")
        for pair in corpus.track_pairs(lang, "tatoeba")[2]
        for text in pair
    }
    for lang in ("ro", "ko"):  # the dev parts lost every pair with a side in a test set
        assert (
            not {text for pair in corpus.track_pairs(lang, "tatoeba")[1] for text in pair} & tested
        )
    assert 0.25 < len(corpus.track_pairs("ro", "tatoeba")[2]) / 301 < 0.45  # parts: test 0.35


def test_check_leakage_counts_a_dev_sentence_that_is_also_a_test_sentence(prepared, tmp_path):
    out, _, corpus = prepared
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "manifest.json").write_bytes((out / "manifest.json").read_bytes())
    for lang in corpus.languages():
        splits = {s: [(*p, "x") for p in corpus.pairs(lang, s)] for s in corpus.splits(lang)}
        if lang == "ko":
            splits["news.dev"].append(("Ro test two.", "other", "x"))  # ro's test source
        _write_language(copy / lang, splits)
    assert check_leakage(copy) == 1


def test_the_23_languages_keep_their_codes_and_mirror_paths(source):
    """Any ISO code is now a language (iso639-lang); today's 23 still map to the same ISO 639-3
    codes and the same files of the mirror as the table they had."""
    root = Path("/data")
    for lang, code3 in ISO639_3.items():
        assert iso639_3(lang) == iso639_3(code3) == code3, lang
        assert file_code(lang) == file_code(lang, "ntrex128") == code3
        assert file_code(lang, "flores200") == FLORES_NAMES[lang]
        testsets = root / "opus-mt-testsets/testsets"
        assert (
            expected_path(root, lang, "newstest2017")
            == testsets / f"{code3}-eng/newstest2017.{code3}"
        )
        assert expected_path(root, lang, f"eng-{code3}/x") == testsets / f"eng-{code3}/x.{code3}"
        assert expected_path(root, lang, "flores200-devtest") == (
            testsets / f"flores200_dataset/devtest/{FLORES_NAMES[lang]}.devtest"
        )
        assert expected_path(root, lang, "ntrex128") == (
            root / "opus-mt-testsets/datasets/microsoft/ntrex/NTREX/NTREX-128"
            f"/newstest2019-ref.{code3}.txt"
        )
    assert list(language_sets(source, "ro")) == [
        "newstest2016",
        "tatoeba-test-v2021-08-07",
        "eng-ron/newstest2016",
        "flores200-devtest",
    ]
    assert (iso639_3("uk"), language_name("uk"), file_code("sw", "flores200")) == (
        "ukr",
        "Ukrainian",
        "swh",
    )


def new_language_roles(tmp_path: Path, **values) -> Path:
    """A roles file with German and the given languages for training, ro and ko held out."""
    roles = {
        "train": ["de"],
        "validation": ["ro"],
        "test": ["ko"],
        "tracks": {"tatoeba": None},  # the layout has no ko Tatoeba
    }
    for key, value in values.items():
        roles[key] = roles.get(key, []) + value if key in ("train", "validation") else value
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(roles))
    return path


def test_a_new_language_prepares_from_its_own_files(source, tmp_path):
    """Ukrainian is in no table and not in the mirror: a roles file names it with its own files."""
    write(tmp_path / "uk.txt", ["Привіт.", "Тест один.", "Дякую."])
    write(tmp_path / "en.txt", ["Hello.", "Test one.", "Thank you."])  # "Test one." is ro's test
    roles = load_roles(
        new_language_roles(
            tmp_path,
            train=["uk"],
            sources={"uk": [f"files:{tmp_path / 'uk.txt'},{tmp_path / 'en.txt'}"]},
        )
    )
    manifest = prepare_corpus(source, tmp_path / "out", roles, progress=False)
    corpus = load_corpus(tmp_path / "out")
    assert corpus.pairs("uk", "train") == [("Привіт.", "Hello."), ("Дякую.", "Thank you.")]
    assert manifest["languages"]["uk"]["iso639_3"] == "ukr"
    assert manifest["languages"]["uk"]["dropped"]["leaked"] == 1
    assert manifest["leakage_check"] == 0


def test_a_new_language_placed_in_the_mirror_layout_is_found(tmp_path):
    """A held-out language that no table lists, whose sets a user put in the mirror layout under
    its ISO 639-3 code (FLORES under the name mirror.yaml gives: swh)."""
    root = make_layout(tmp_path / "raw")
    flores = root / "opus-mt-testsets/testsets/flores200_dataset/devtest"
    write(flores / "swh.devtest", [f"swh flores {i}" for i in range(3)])
    test = [("Habari.", "Hello there, friend."), ("Asante.", "Thanks, my friend.")]
    write_set(root, "swa-eng", "newstest2099", "swa", test)
    write_set(root, "swa-eng", "bible", "swa", [("Ndiyo.", "Yes indeed.")])
    sets = {"dev_sets": {"sw": "flores200-devtest"}, "test_sets": {"sw": "newstest2099"}}
    path = new_language_roles(tmp_path, validation=["sw"], tracks={"tatoeba": None, "news": sets})
    prepare_corpus(root, tmp_path / "out", load_roles(path), progress=False)
    corpus = load_corpus(tmp_path / "out")
    assert corpus.pairs("sw", "news.dev") == [(f"swh flores {i}", FLORES_EN[i]) for i in range(3)]
    assert corpus.pairs("sw", "news.test") == test
    assert corpus.pairs("sw", "pool") == [("Ndiyo.", "Yes indeed.")]


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"train": ["sw"]},
            r"no parallel data for 'sw' \(Swahili \(macrolanguage\), swa\) under .*: neither "
            r"opus-mt-testsets/testsets/swa-eng/ nor eng-swa/ nor its FLORES-200 \(swh.devtest\) "
            r"or NTREX-128 file.*Give it training data in the roles file: sources: "
            r"\{sw: \[files:<sw file>,<English file>\]\}",
        ),
        (
            {
                "validation": ["sw"],
                "tracks": {
                    "tatoeba": None,
                    "news": {"dev_sets": {"sw": "flores200-devtest"}, "test_sets": {"sw": "x"}},
                },
                "sources": {"sw": ["tsv:sw.tsv"]},
            },
            r"'sw'.*As a validation language its dev and test sets come from the mirror: put "
            r"each as .*testsets/swa-eng/<set>.swa \+ <set>.eng",
        ),
    ],
)
def test_a_language_the_mirror_lacks_is_refused_saying_how_to_add_it(
    source, tmp_path, values, message
):
    roles = load_roles(new_language_roles(tmp_path, **values))  # a valid language: accepted
    with pytest.raises(CorpusError, match=message):
        prepare_corpus(source, tmp_path / "out", roles, progress=False)
    assert not (tmp_path / "out").exists()
