"""Translation speed and memory: transformers (float32 generate) against CTranslate2 (float32 and
int8 exports of the same model), greedy and beam 4, at 1 and 2 threads, side by side in one run.

Each configuration runs in a process of its own (its peak RSS is its own), on the same sentences:

    python benchmarks/translate_speed.py --model FINE_TUNED_MODEL --shape cpu --out results/speed
    python benchmarks/translate_speed.py --shape paper --out results/speed   # random:paper weights

Reports target tokens per second (the outputs re-tokenized), peak RSS (and what loading the model
and decoding added to the process), BLEU and chrF against the references, and the share of this
CPU's fp32 matmul rate (2048x2048, measured at the same threads in the same process) that the
weight multiply-adds make (``multiply_adds``; int8 runs other instructions: its share can pass 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def matmul_gflops(threads: int) -> float:
    """This machine's fp32 matmul rate at ``threads`` (2048x2048, median of 7), measured in the
    same process as the engine it is compared with."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    times = []
    for _ in range(7):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / sorted(times)[3] / 1e9


def resident_mib(field: str = "VmRSS") -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM). Not getrusage's
    ru_maxrss: Linux keeps that across exec, so a child would start at its parent's peak."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def multiply_adds(config) -> dict:
    """Weight multiply-adds per source token (encoder, and the decoder's cross-attention keys and
    values, made once) and per target token and beam (self- and cross-attention, the feed-forward
    layers, the output projection); attention scores themselves are left out."""
    d = config.d_model
    return {
        "source": config.encoder_layers * (4 * d * d + 2 * d * config.encoder_ffn_dim)
        + config.decoder_layers * 2 * d * d,
        "target": config.decoder_layers * (6 * d * d + 2 * d * config.decoder_ffn_dim)
        + d * config.vocab_size,
    }


def one(args) -> dict:
    """One configuration, in this process: decode, time, count, score."""
    import torch

    from metanmt.translation.export import CTranslate2Model
    from metanmt.translation.finetuning.decode import translate
    from metanmt.translation.finetuning.scoring import score
    from metanmt.translation.model import load_translation_model

    torch.set_num_threads(args.threads)
    data = json.loads(Path(args.data).read_text())
    before = resident_mib()  # python, torch and transformers: the same for every engine
    if args.engine == "transformers":
        model, tokenizer = load_translation_model(data["model"])
    else:
        model = CTranslate2Model(data["exports"][args.engine], threads=args.threads)
        tokenizer = model.tokenizer
    sources, references = data["sources"], data["references"]
    translate(model, tokenizer, sources[:20], args.beams, progress=False)  # warm-up
    start = time.perf_counter()
    outputs = translate(model, tokenizer, sources, args.beams, progress=False)
    seconds = time.perf_counter() - start
    target = sum(len(ids) for ids in tokenizer(text_target=outputs).input_ids)
    source = sum(len(ids) for ids in tokenizer(sources).input_ids)
    macs = data["macs"]["source"] * source + data["macs"]["target"] * target * args.beams
    scores = score(outputs, references)
    rss = resident_mib("VmHWM")
    peak = matmul_gflops(args.threads)  # after the RSS: its matrices are not the engine's
    return {
        "engine": args.engine,
        "beams": args.beams,
        "threads": args.threads,
        "seconds": round(seconds, 2),
        "target_tokens_per_s": round(target / seconds, 1),
        "peak_rss_mib": round(rss),
        "model_and_decoding_mib": round(rss - before),
        "matmul_gflops": round(peak, 1),
        "fp32_peak_share": round(2 * macs / seconds / 1e9 / peak, 3),
        "bleu": scores["bleu"],
        "chrf": scores["chrf"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        help="a fine-tuned model or run (default: random weights of "
        "--shape over the corpus vocabulary)",
    )
    parser.add_argument("--shape", default="cpu", help="the model preset the row is labelled with")
    parser.add_argument("--corpus", default=os.path.expanduser("~/.cache/metanmt/translation"))
    parser.add_argument("--language", default="ro")
    parser.add_argument("--sentences", type=int, default=0, help="first N test sentences (0: all)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--beams", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return
    from metanmt.translation.data.corpus import load_corpus
    from metanmt.translation.export import export_ctranslate2
    from metanmt.translation.model import load_translation_model, save_translation_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test = load_corpus(args.corpus).track_pairs(args.language, "tatoeba")[2]
    test = test[: args.sentences or None]
    work = Path(tempfile.mkdtemp(dir=out))
    model = args.model
    if model is None:  # random weights: speed only (their outputs run to the length cap)
        weights, tokenizer = load_translation_model(
            f"random:{args.shape}", Path(args.corpus) / "vocab"
        )
        model = str(save_translation_model(weights, tokenizer, work / "hf"))
        del weights
    exports = {"ctranslate2-float32": str(work / "f32"), "ctranslate2-int8": str(work / "i8")}
    for name, folder in exports.items():
        export_ctranslate2(model, folder, name.split("-")[1])
    data = work / "data.json"
    from transformers import AutoConfig

    macs = multiply_adds(
        AutoConfig.from_pretrained(
            model if not (Path(model) / "checkpoints").is_dir() else Path(model) / "model"
        )
    )
    data.write_text(
        json.dumps(
            {
                "model": model,
                "exports": exports,
                "macs": macs,
                "sources": [s for s, _ in test],
                "references": [t for _, t in test],
            }
        )
    )
    rows = []
    for beams in (1, 4):
        for threads in (1, 2):
            for engine in ("transformers", *exports):
                command = [
                    sys.executable,
                    __file__,
                    "--one",
                    "--out",
                    str(out),
                    "--engine",
                    engine,
                    "--beams",
                    str(beams),
                    "--threads",
                    str(threads),
                    "--data",
                    str(data),
                ]
                row = json.loads(
                    subprocess.run(
                        command, check=True, capture_output=True, text=True
                    ).stdout.splitlines()[-1]
                )
                base = next(
                    (
                        r
                        for r in rows
                        if r["engine"] == "transformers"
                        and r["beams"] == beams
                        and r["threads"] == threads
                    ),
                    row,
                )
                row["speedup"] = round(row["target_tokens_per_s"] / base["target_tokens_per_s"], 2)
                rows.append({"shape": args.shape, **row})
                print(json.dumps(rows[-1]), flush=True)
    (out / f"speed_{args.shape}.json").write_text(json.dumps(rows, indent=1))
    header = list(rows[0])
    table = (
        "| "
        + " | ".join(header)
        + " |\n|"
        + "---|" * len(header)
        + "\n"
        + "".join("| " + " | ".join(str(r[k]) for k in header) + " |\n" for r in rows)
    )
    (out / f"speed_{args.shape}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
