"""`metanmt translate`'s decoding options (batch size, max length, n-best lists, sampling, compute
type), files written whole or not at all (translate --output, score --out, export), and
exports in GPU types (issue 42, items 3, 8 and 9). Every test goes through the CLI."""

import json
import logging
import math
from pathlib import Path

import pytest
from helpers import one_error_line, snapshot

from metanmt.cli import main
from metanmt.translation import export as export_module
from metanmt.translation import text_files as translation_commands
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.export import CTranslate2Model
from metanmt.translation.finetuning import decode


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, toy_corpus):
    """A saved random tiny model (outputs vary with the source) and its float32 CTranslate2
    export: (corpus, model, export)."""
    from metanmt.translation.model import load_translation_model, save_translation_model

    model, tokenizer = load_translation_model("random:tiny", toy_corpus / "vocab", seed=1)
    root = tmp_path_factory.mktemp("options")
    saved = save_translation_model(model, tokenizer, root / "tiny")
    exported = root / "ct2"
    assert main(["export", str(saved), "--quantization", "float32", "--out", str(exported)]) == 0
    return toy_corpus, saved, exported


@pytest.fixture
def lines(tiny, tmp_path):
    """Four test sources of the toy corpus in a file."""
    path = tmp_path / "ro.txt"
    path.write_text("".join(s + "\n" for s, _ in load_corpus(tiny[0]).track_pairs("ro")[2][:4]))
    return path


def run(capsys, model, lines, *flags):
    """``metanmt translate`` on ``lines``: its exit code and stdout lines."""
    capsys.readouterr()
    code = main(
        ["translate", "--model", str(model), "--input", str(lines), "--threads", "1", *flags]
    )
    return code, capsys.readouterr().out.splitlines()


def refused(capsys, model, lines, *flags) -> str:
    """``metanmt translate`` refusing: exit code 2, nothing on stdout, its one error line."""
    capsys.readouterr()
    code = main(["translate", "--model", str(model), "--input", str(lines), *flags])
    out = capsys.readouterr()
    errors = [
        line for line in out.err.splitlines() if line.startswith("metanmt translate: error: ")
    ]
    assert code == 2 and not out.out and len(errors) == 1 and "Traceback" not in out.err, out.err
    return errors[0]


def nbest_rows(output):
    rows = [line.split("\t", 2) for line in output]
    return [(int(number), float(score), text) for number, score, text in rows]


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_nbest_gives_n_numbered_scored_lines_per_input_best_first(
    tiny, lines, capsys, monkeypatch, engine
):
    model = tiny[1] if engine == "transformers" else tiny[2]
    monkeypatch.setattr(translation_commands, "STREAM_LINES", 3)  # numbered across chunks
    code, output = run(capsys, model, lines, "--nbest", "3", "--beams", "3")
    rows = nbest_rows(output)
    assert code == 0 and [number for number, _, _ in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    for first in range(0, 12, 3):
        scores = [score for _, score, _ in rows[first : first + 3]]
        assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)
    best = run(capsys, model, lines, "--beams", "3")[1]  # the 1-best is the n-best's first
    assert best == [text for _, _, text in rows[::3]]
    assert "--nbest 5 is more than --beams 4" in refused(capsys, model, lines, "--nbest", "5")


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_sampling_draws_n_samples_repeatably_by_seed(tiny, lines, capsys, engine):
    model = tiny[1] if engine == "transformers" else tiny[2]
    sample = ("--sampling-topk", "20", "--nbest", "3", "--sampling-temperature", "2")
    code, first = run(capsys, model, lines, *sample, "--seed", "1")
    assert code == 0 and len(first) == 12
    assert run(capsys, model, lines, *sample, "--seed", "1")[1] == first
    assert run(capsys, model, lines, *sample, "--seed", "2")[1] != first
    texts = [text for _, _, text in nbest_rows(first)]
    assert len(set(texts)) > 4  # samples, not one beam's near-copies
    greedy = run(capsys, model, lines, "--beams", "1")[1]
    assert run(capsys, model, lines, "--sampling-topk", "0", "--seed", "1")[1] != greedy
    for flags, message in [
        (("--sampling-topk", "5", "--beams", "4"), "samples one token at a time: drop --beams"),
        (("--seed", "1"), "--seed is for sampling: add --sampling-topk"),
        (("--sampling-temperature", "0.5"), "--sampling-temperature is for sampling"),
        (("--sampling-topk", "5", "--sampling-temperature", "0"), "must be > 0, got 0.0"),
        (
            (
                "--sampling-topk",
                "-1",
            ),
            "--sampling-topk must be at least 0, got -1",
        ),
    ]:
        assert message in refused(capsys, model, lines, *flags)


def test_max_length_caps_the_tokens_each_translation_generates(tiny, lines, capsys, monkeypatch):
    corpus, model, exported = tiny
    full = run(capsys, model, lines, "--beams", "1")[1]
    asked = []
    options = decode.generate_options
    monkeypatch.setattr(
        decode,
        "generate_options",
        lambda search, max_new: asked.append(max_new) or options(search, max_new),
    )
    short = run(capsys, model, lines, "--beams", "1", "--max-length", "4")[1]
    assert asked == [4]  # generate's max_new_tokens (3 tokens and </s>)
    assert all(f.startswith(s) and len(s) < len(f) for s, f in zip(short, full, strict=True))
    ct2 = run(capsys, exported, lines, "--beams", "1", "--max-length", "4")[1]
    assert ct2 == short  # the same cap in both engines
    positions = json.loads((exported / "metanmt_export.json").read_text())
    limit = positions["max_position_embeddings"]
    for value, message in [
        (limit + 1, f"--max-length must be between 2 and the model's {limit} positions"),
        (1, "--max-length must be at least 2, got 1"),
    ]:
        assert message in refused(capsys, model, lines, "--max-length", str(value))


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_batch_size_caps_sentences_per_batch_and_changes_no_output(
    tiny, lines, capsys, monkeypatch, engine
):
    model = tiny[1] if engine == "transformers" else tiny[2]
    batches = []
    if engine == "transformers":
        made = decode.generate_batches

        def counting(*args):
            inner = made(*args)
            return lambda ids, *rest: batches.append(len(ids)) or inner(ids, *rest)

        monkeypatch.setattr(decode, "generate_batches", counting)
    else:
        inner = export_module.CTranslate2Model.translate_ids

        def counting(self, ids, search, max_new):
            batches.append(len(ids))
            assert search.batch_size in (None, 3)  # passed on as max_batch_size
            return inner(self, ids, search, max_new)

        monkeypatch.setattr(export_module.CTranslate2Model, "translate_ids", counting)
    fixed = ("--beams", "2", "--max-length", "20")  # max_new would follow each batch's longest
    whole = run(capsys, model, lines, *fixed)[1]
    assert batches == [4]
    batches.clear()
    assert run(capsys, model, lines, *fixed, "--batch-size", "3")[1] == whole
    assert batches == [3, 1]
    line = refused(capsys, model, lines, "--batch-size", "0")
    assert "--batch-size must be at least 1, got 0" in line


def test_compute_type_is_for_ctranslate2_and_refused_where_the_device_lacks_it(tiny, lines, capsys):
    corpus, model, exported = tiny
    code, output = run(capsys, exported, lines, "--compute-type", "int8")
    assert code == 0 and len(output) == 4
    # it reaches the translator (int8 on a CPU computes the rest in float32)
    assert CTranslate2Model(exported, compute_type="int8").translator.compute_type == "int8_float32"
    assert CTranslate2Model(exported, compute_type="float32").translator.compute_type == "float32"
    line = refused(capsys, exported, lines, "--compute-type", "float16")
    assert "--compute-type float16 is not supported on this cpu: it supports" in line
    assert "int8" in line and "float32" in line
    line = refused(capsys, model, lines, "--compute-type", "int8")
    assert "--compute-type is for CTranslate2 models" in line


def test_gpu_quantized_exports_convert_on_a_cpu_and_say_so(tiny, lines, tmp_path, capfd):
    corpus, model, exported = tiny
    carded = tmp_path / "carded"
    carded.mkdir()
    for item in model.iterdir():
        (carded / item.name).write_bytes(item.read_bytes())
    (carded / "README.md").write_text("# a model card\n")
    for quantization, computed in (("float16", "float32"), ("int8_bfloat16", "int8_float32")):
        out = tmp_path / quantization
        assert main(["export", str(carded), "--quantization", quantization, "--out", str(out)]) == 0
        info = json.loads((out / "metanmt_export.json").read_text())
        assert info["quantization"] == quantization and info["source"] == "carded"
        card = (out / "README.md").read_text()
        assert f"`metanmt translate --model {quantization} --engine ctranslate2`" in card
        assert str(tmp_path) not in card  # no path of this machine in what is shipped
        capfd.readouterr()
        args = ["translate", "--model", str(out), "--input", str(lines), "--beams", "1"]
        assert main([*args, "--threads", "1"]) == 0
        printed = capfd.readouterr()  # file descriptors: CTranslate2 logs from C++
        assert len(printed.out.splitlines()) == 4
        note = (
            f"{quantization} holds {quantization} weights, which a cpu does not compute in: "
            f"CTranslate2 converted them to {computed} as it loaded"
        )
        assert note in printed.err and "[ctranslate2]" not in printed.err  # ours, not its own


def test_export_force_replaces_an_export_whole_and_a_failed_export_changes_nothing(
    tiny, tmp_path, capsys, monkeypatch
):
    corpus, model, _ = tiny
    out = tmp_path / "ct2"
    assert main(["export", str(model), "--quantization", "float32", "--out", str(out)]) == 0
    assert main(["export", str(model), "--out", str(out)]) == 2
    assert "is not empty: give a new folder to export into, or --force" in one_error_line(
        capsys, "export"
    )
    assert main(["export", str(model), "--out", str(out), "--force"]) == 0  # int8 now
    assert json.loads((out / "metanmt_export.json").read_text())["quantization"] == "int8"
    before = snapshot(out)
    from ctranslate2.converters import TransformersConverter

    def broken(self, output_dir, **options):
        assert output_dir == str(tmp_path / "ct2.tmp") or output_dir.endswith("new.tmp")
        (Path(output_dir) / "model.bin").write_bytes(b"half")  # a half-written export
        raise ValueError("conversion failed half-way")

    monkeypatch.setattr(TransformersConverter, "convert", broken)
    assert main(["export", str(model), "--out", str(out), "--force"]) == 2
    assert "conversion failed half-way" in one_error_line(capsys, "export")
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ct2"]
    assert main(["export", str(model), "--out", str(tmp_path / "new")]) == 2
    assert "conversion failed half-way" in one_error_line(capsys, "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct2"]  # not even an empty "new"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["export", str(model), "--out", str(other), "--force"]) == 2
    assert "--force replaces an earlier export only" in one_error_line(capsys, "export")
    assert (other / "notes.txt").read_text() == "keep me"


def test_output_is_written_whole_or_not_at_all(tiny, tmp_path, capsys, monkeypatch):
    corpus, model, _ = tiny
    good = tmp_path / "good.txt"
    good.write_text("kebu tipe\n" * 601)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"kebu tipe\n" * 601 + b"tr\xe9s bien\n")
    output = tmp_path / "out.en"
    output.write_text("an earlier translation\n")
    line = refused(capsys, model, bad, "--beams", "1", "--output", str(output))
    assert f"{bad}: invalid UTF-8 on line 602" in line
    assert output.read_text() == "an earlier translation\n"  # 500 lines were translated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "good.txt", "out.en"]
    assert run(capsys, model, good, "--beams", "1", "--output", str(output)) == (0, [])
    assert len(output.read_text().splitlines()) == 601
    missing = tmp_path / "nowhere" / "out.en"
    assert "--output folder not found" in refused(capsys, model, good, "--output", str(missing))


def test_score_out_writes_each_metric_as_printed(tiny, tmp_path, capsys):
    corpus, _, exported = tiny
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("the cat sees the ball\na dog runs\n")
    ref.write_text("the cat sees the ball\na dog sleeps\n")
    out = tmp_path / "scores.json"
    assert main(["score", "--hyp", str(hyp), "--ref", str(ref), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    bleu = written["metrics"]["bleu"]
    low, high = bleu["interval"]
    assert f"BLEU {bleu['score']:.2f} [{low:.2f}, {high:.2f}]" in printed
    for metric in written["metrics"].values():
        assert f": {metric['signature']}" in printed
    assert main(["score", "--hyp", str(hyp), "--ref", str(tmp_path / "none"), "--out", str(out)])
    assert json.loads(out.read_text()) == written  # a failed score leaves the file as it was
    capsys.readouterr()
    common = ["score", "--model", str(exported), "--corpus", str(corpus), "--languages", "ro"]
    flags = ["--test-sentences", "5", "--beams", "1", "--threads", "1", "--out", str(out)]
    assert main([*common, *flags]) == 0
    ro = json.loads(out.read_text())["languages"]["ro"]
    assert ro["sentences"] == 5 and not math.isnan(ro["metrics"]["chrf"]["score"])
    assert main(["score", "--hyp", str(hyp), "--ref", str(ref), "--out", str(tmp_path)]) == 2
    assert "is a folder: give a file to write" in one_error_line(capsys, "score")


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_decoding_leaves_transformers_nothing_to_warn_about(tiny, lines, capsys):
    import torch
    from transformers.utils import logging as transformers_logging

    corpus, model, _ = tiny
    records = Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(records)
    try:
        for flags in (["--beams", "1"], ["--beams", "4"], ["--sampling-topk", "5", "--seed", "1"]):
            transformers_logging.warning_once.cache_clear()  # each decode may warn anew
            assert run(capsys, model, lines, *flags)[0] == 0
            assert "generation flags" not in capsys.readouterr().err
        assert not [m for m in records.messages if "generation flags" in m], records.messages
        from metanmt.translation.model import load_translation_model

        loaded, _ = load_translation_model(model)  # the warning the old call drew, caught here
        transformers_logging.warning_once.cache_clear()
        loaded.generate(
            input_ids=torch.tensor([[5, 6, 1]]), num_beams=1, length_penalty=0.6, max_new_tokens=3
        )
        assert [m for m in records.messages if "generation flags" in m]
    finally:
        logger.removeHandler(records)
