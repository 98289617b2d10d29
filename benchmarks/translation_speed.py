"""Training throughput of metanmt's one loop (MultiNMT = the pretrain algorithm) against
`transformers`' Seq2SeqTrainer on the same model, data and batch size; and beam-4 decoding speed.

    python benchmarks/translation_speed.py --corpus CORPUS [--model cpu] [--rounds 3]

Both sides train the same freshly initialised model on the training languages' sentences; a
metanmt step sees ``meta_batch`` tasks of support + query batches, and the Seq2SeqTrainer batch
holds the same mean number of sentences, grouped by length as metanmt's length buckets are.
Rounds alternate between the two, so background load hits both; the medians of target tokens
per second and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def metanmt_round(config, steps: int) -> float:
    from metanmt.trainer import Trainer

    trainer = Trainer(config, log=False)
    trainer.train_step()  # warm-up (allocations, first batch)
    trainer.step += 1
    tokens, seconds = trainer.cost, 0.0
    for _ in range(steps):  # the trainer counts the target tokens of each step's tasks
        start = time.perf_counter()
        trainer.train_step()
        seconds += time.perf_counter() - start
        trainer.step += 1
    return (trainer.cost - tokens) / seconds


def hf_dataset(family):
    """The training languages' pairs, tokenized once, with a length column for grouping."""
    from datasets import Dataset

    from metanmt.translation.data.vocab import encode

    pairs = [p for lang in family.languages("train") for p in family.corpus.pairs(lang, "train")]
    length = family.config.max_length
    sources = encode(family.tokenizer, [s for s, _ in pairs], length)
    targets = encode(family.tokenizer, [t for _, t in pairs], length)
    return Dataset.from_dict(
        {
            "input_ids": sources,
            "labels": targets,
            "length": [max(len(s), len(t)) for s, t in zip(sources, targets)],
        }
    )


def hf_round(family, data, batch_size: int, steps: int, lr: float, seed: int) -> float:
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    torch.manual_seed(seed)
    model = family.build_model()
    counted = {"tokens": 0}
    collator = DataCollatorForSeq2Seq(family.tokenizer, model=model)

    def collate(features):
        batch = collator(features)
        counted["tokens"] += int((batch["labels"] != -100).sum())
        return batch

    with tempfile.TemporaryDirectory() as out:
        args = Seq2SeqTrainingArguments(
            out,
            per_device_train_batch_size=batch_size,
            max_steps=steps + 1,
            learning_rate=lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=seed,
            train_sampling_strategy="group_by_length",  # its best setting: little padding
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        timing = {}

        from transformers import TrainerCallback

        class Clock(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 1:  # the first step is the warm-up
                    timing["start"], timing["tokens"] = time.perf_counter(), counted["tokens"]

        trainer = Seq2SeqTrainer(
            model=model, args=args, train_dataset=data, data_collator=collate, callbacks=[Clock()]
        )
        trainer.train()
        end = time.perf_counter()
    # the collator runs one batch ahead at most; count what the timed steps consumed
    return (counted["tokens"] - timing["tokens"]) / (end - timing["start"])


def decode_speed(source: str, family, sentences: int) -> tuple[float, str]:
    """Sentences/s of beam-4 decoding by a trained model (an untrained one babbles on)."""
    from metanmt.translation.finetuning.decode import translate
    from metanmt.translation.model import load_translation_model

    model, tokenizer = load_translation_model(source)
    language = family.languages("val")[0]
    pool = family.corpus.track_pairs(language)[2][:sentences]
    start = time.perf_counter()
    translate(model, tokenizer, [s for s, _ in pool], progress=False)  # DECODING: beam 4, lp 0.6
    return len(pool) / (time.perf_counter() - start), language


def main() -> None:
    from metanmt.config import load_config
    from metanmt.translation.family import TranslationFamily

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model", default="cpu")
    parser.add_argument("--meta-batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=1000, help="target tokens per support/query")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--decode-model", help="a trained run or model folder to time decoding")
    parser.add_argument("--decode-sentences", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = load_config(
        None,
        [
            "family=translation",
            f"out_dir={tempfile.mkdtemp()}",
            f"translation.corpus={args.corpus}",
            f"translation.model={args.model}",
            f"translation.support_tokens={args.tokens}",
            f"translation.query_tokens={args.tokens}",
            "algorithm.name=pretrain",
            f"train.meta_batch={args.meta_batch}",
            "train.outer_lr=3e-4",
            "train.device=cpu",
        ],
    )
    family = TranslationFamily(config.task)
    tasks = family.sample_batch("train", 40 * args.meta_batch, torch.Generator().manual_seed(9))
    sentences = sum(len(b["labels"]) for t in tasks for b in (t.support, t.query))
    batch_size = round(sentences / 40)  # the mean sentences of one metanmt step
    print(
        f"model {args.model}; metanmt: {args.meta_batch} tasks x 2 x {args.tokens} target tokens "
        f"per step; Seq2SeqTrainer: {batch_size} sentences per batch; {args.threads} threads"
    )
    data = hf_dataset(family)
    ours, theirs = [], []
    for round_ in range(args.rounds):
        ours.append(metanmt_round(config, args.steps))
        theirs.append(hf_round(family, data, batch_size, args.steps, 3e-4, round_))
        print(
            f"round {round_ + 1}: metanmt {ours[-1]:.0f} tok/s, "
            f"Seq2SeqTrainer {theirs[-1]:.0f} tok/s"
        )
    ratio = statistics.median(o / t for o, t in zip(ours, theirs))
    print(
        f"median target tokens/s: metanmt {statistics.median(ours):.0f}, Seq2SeqTrainer "
        f"{statistics.median(theirs):.0f}; ratio (median of per-round ratios) {ratio:.2f}x"
    )
    if args.decode_model:
        speed, language = decode_speed(args.decode_model, family, args.decode_sentences)
        print(
            f"beam-4 decoding, {args.decode_sentences} {language} test sentences: "
            f"{speed:.1f} sentences/s"
        )


if __name__ == "__main__":
    main()
