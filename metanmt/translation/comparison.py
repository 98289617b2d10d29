"""MetaNMT against MultiNMT (or any runs) at equal training cost, then every run and a random
initialisation fine-tuned at English-word budgets over draws: Gu et al.'s experiment as one call.

A comparison is a YAML file (``recipes/configs/compare/*.yaml``): the corpus to prepare, the run
configs to train (``runs``, paths relative to the file that names them), run-config keys shared
by every run (``shared``), and the fine-tuning plan (the keys of ``BudgetPlan``). Each part
resumes: a prepared corpus is kept, finished runs are not trained again, finished fine-tunings
are read back from results.csv.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

from metanmt.checkpoint import load_checkpoint
from metanmt.config import (
    ConfigError,
    build_config,
    merge,
    merge_layer,
    read_yaml,
    resolve_sources,
)
from metanmt.evaluation.report import plain_table, training_rows
from metanmt.folder_lock import hold_folder
from metanmt.run_folder import RunFolder, checkpoint_of
from metanmt.schema import apply, to_dict
from metanmt.threads import parse_threads, set_threads
from metanmt.trainer import Trainer
from metanmt.translation.data.corpus import default_corpus_dir, load_corpus
from metanmt.translation.data.languages import LanguageRoles, load_roles, missing_language
from metanmt.translation.data.prepare import prepare
from metanmt.translation.data.sources import default_cache
from metanmt.translation.finetuning.budgets import run_budgets
from metanmt.translation.finetuning.contrast import contrast, gap
from metanmt.translation.finetuning.job import Initialisations
from metanmt.translation.finetuning.language_data import LanguageData, corpus_languages
from metanmt.translation.finetuning.results import read_results
from metanmt.translation.model import resolve_device
from metanmt.translation.settings import BudgetPlan, CompareConfig, CorpusSpec
from metanmt.translation.training_runs import train_runs

log = logging.getLogger(__name__)


def corpus_folder(spec: CorpusSpec) -> Path:
    """The corpus' path, else the default corpus folder (its vocabulary size in the name when it
    is not the default's, so presets with different vocabularies never share a folder)."""
    if spec.path:
        return Path(spec.path)
    if spec.toy:
        return default_cache() / "translation-toy"
    default = default_corpus_dir()
    return (
        default
        if spec.vocab_size == 8000
        else default.with_name(f"{default.name}-v{spec.vocab_size}")
    )


def read_compare_yaml(path: Path) -> dict:
    """A compare YAML with its ``base:`` files, run config paths made absolute (each relative to
    the file that names it)."""
    return read_yaml(path, relative={"runs"})


def load_compare(
    path: str | Path,
    assignments: Sequence[str] = (),
    only: Sequence[str] = (),
    flags: dict | None = None,
) -> tuple[CompareConfig, dict]:
    """The comparison (only the runs named in ``only``, if given) and the nested dict of every
    key given (for reading them back): the YAML, then ``assignments`` (--set), then ``flags``
    (a nested dict of values already read)."""
    given = merge(read_compare_yaml(Path(path)), resolve_sources(None, assignments))
    given = merge(given, copy.deepcopy(flags or {}))
    config = apply(CompareConfig(), copy.deepcopy(given), "", "a comparison")
    unknown = sorted(set(only) - set(config.runs))
    if unknown:
        raise ConfigError(
            f"{path}: no run called {', '.join(map(repr, unknown))}; its runs: "
            f"{', '.join(config.runs)}"
        )
    config.runs = {
        name: run for name, run in config.runs.items() if run and (not only or name in only)
    }
    given["runs"] = dict(config.runs)
    if not config.runs and not config.random:
        raise ConfigError(f"{path}: nothing to compare: no runs and no random initialisation")
    return config, given


def cost_label(cost: int) -> str:
    """1000000 -> "1M", 2500000 -> "2.5M", 500000 -> "500k"."""
    return f"{cost / 1e6:g}M" if cost >= 1_000_000 else f"{cost / 1e3:g}k"


def seeded(name: str, seed: int | None) -> str:
    """A run's name for one seed: metanmt -> metanmt_s1, metanmt@1M -> metanmt_s1@1M."""
    if seed is None:
        return name
    run, at, cost = name.partition("@")
    return f"{run}_s{seed}{at}{cost}"


def trained_cost(run: str) -> int:
    """The training cost of the weights a run folder gives as an initialisation (its best)."""
    _, _, state = load_checkpoint(checkpoint_of(run))
    return int(state["cost"])


class Comparison:
    """Built from a CompareConfig: the corpus folder, each run's config, the fine-tuning plan."""

    def __init__(self, config: CompareConfig):
        self.config = config
        try:
            parse_threads(config.threads)
        except ValueError as error:
            raise ConfigError(f"threads: {error}") from None
        self.out = Path(config.out_dir)
        self.corpus = corpus_folder(config.corpus)
        self.plan = BudgetPlan(
            **{
                f.name: copy.deepcopy(getattr(config, f.name))
                for f in dataclasses.fields(BudgetPlan)
            }
        )
        if len(set(config.seeds)) != len(config.seeds):
            raise ConfigError(f"seeds: {list(config.seeds)} names a seed twice")
        self.run_sources = {
            seeded(name, seed): self.run_sources_of(seeded(name, seed), path, seed)
            for seed in config.seeds or (None,)  # seed by seed: whole pairs finish first
            for name, path in config.runs.items()
        }
        self.run_configs = {
            name: build_config(copy.deepcopy(values)) for name, values in self.run_sources.items()
        }
        for name, run in self.run_configs.items():
            missing = sorted(set(config.checkpoints) - set(run.train.keep_checkpoints_at))
            if missing:
                raise ConfigError(
                    f"checkpoints: run {name!r} keeps no weights at "
                    f"{', '.join(map(cost_label, missing))} target tokens; add "
                    f"them to shared.train.keep_checkpoints_at"
                )

    def run_sources_of(self, name: str, path: str, seed: int | None = None) -> dict:
        """The keys given for one run: its YAML, the shared keys, then where it goes (and its
        seed, when the comparison trains several)."""
        values = merge_layer(read_yaml(Path(path)), copy.deepcopy(self.config.shared))
        own = {"out_dir": str(self.out / name), "translation": {"corpus": str(self.corpus)}}
        return merge_layer(values, own if seed is None else {**own, "train": {"seed": seed}})

    def contrast_pairs(self, a: str, b: str) -> list[tuple[str, str]]:
        """(A, B) for each training run: A and B of the same seed (``a``, ``b`` may carry an
        ``@cost``); one pair when the comparison trains one run of each."""
        return [(seeded(a, seed), seeded(b, seed)) for seed in self.config.seeds or (None,)]

    def settings(self) -> dict:
        """What the comparison uses, by key (read back to check that its YAML reached it)."""
        spec = self.config.corpus
        return {
            "out_dir": str(self.out),
            "corpus": {**vars(spec), "path": str(self.corpus)},
            "runs": dict(self.config.runs),
            "random": self.config.random,
            "languages": self.config.languages,
            "tracks": self.config.tracks,
            "contrast": self.config.contrast,
            "checkpoints": tuple(
                cost
                for cost in self.config.checkpoints  # as fine-tuned
                if any(name.endswith(f"@{cost_label(cost)}") for name in self.inits())
            ),
            "threads": self.config.threads,
            "runs_at_once": self.config.runs_at_once,
            "seeds": self.config.seeds,
            **dataclasses.asdict(self.plan),
        }

    # -- the three parts -----------------------------------------------------------------------
    def ensure_corpus(self) -> None:
        """Prepare the corpus unless it is there (then check its vocabulary size)."""
        spec = self.config.corpus
        entries = self.corpus / "vocab" / "vocab.json"
        if entries.is_file():
            size = len(json.loads(entries.read_text(encoding="utf-8")))
            if size != spec.vocab_size:
                raise ConfigError(
                    f"corpus.vocab_size is {spec.vocab_size}, but {self.corpus} was "
                    f"prepared with a vocabulary of {size}: give corpus.path another "
                    f"folder (or corpus.vocab_size={size})"
                )
            return
        prepare(
            spec.source or None,
            self.corpus,
            load_roles(spec.roles or None),
            vocab_size=spec.vocab_size,
            toy=spec.toy,
        )

    def train(
        self,
        names: Sequence[str],
        processes: int = 1,
        accelerate_config: str | None = None,
        port: int = 29500,
    ) -> None:
        """Train (or finish) the runs, each in processes of its own (`metanmt train`; under
        accelerate launch when asked for several), so that what training held is returned
        before the fine-tuning starts; ``runs_at_once`` of them side by side, each writing its
        progress to OUT/<name>/train.log."""
        at_once = 1 if processes > 1 or accelerate_config else self.config.runs_at_once
        runs = {name: self.run_sources[name] for name in names}
        train_runs(runs, self.out, self.config.threads, at_once, processes, accelerate_config, port)

    def inits(self) -> dict[str, str]:
        """Every initialisation to fine-tune: each run (its best checkpoint), each run at each of
        ``checkpoints``, and the random one."""
        inits = {name: str(self.out / name) for name in self.run_configs}
        for cost in self.config.checkpoints:
            inits.update(
                {
                    f"{name}@{cost_label(cost)}": str(
                        RunFolder(self.out / name).checkpoint_at(cost)
                    )
                    for name in self.run_configs
                }
            )
        if self.config.random:
            inits["random"] = f"random:{self.config.random}"
        return inits

    def finetune(self, track: str, inits: Initialisations) -> list[dict]:
        """Every init at every budget on ``track``: results and summary in OUT/<track>/. The
        contrast covers every language the folder holds, so that a call for some of them (say,
        ``cpu_gap`` into the ``cpu`` preset's folder) does not drop the others' cells."""
        data = corpus_languages(self.corpus, self.config.languages, track)
        out = self.out / track
        held = (
            {r["language"] for r in read_results(out / "results.csv")}
            if (out / "results.csv").is_file()
            else set()
        )
        roles = self.roles()
        evaluated = set(roles.languages("validation") + roles.languages("test"))
        earlier = sorted(held & evaluated - data.keys())
        scored_only = corpus_languages(self.corpus, earlier, track) if earlier else {}
        test_set = f"the {track} track of the corpus {self.corpus.name}"
        return self.finetune_on(data, out, inits, test_set, scored_only)

    def finetune_on(
        self,
        data: dict[str, LanguageData],
        out: Path,
        initialisations: Initialisations,
        test_set: str = "the test files given to metanmt compare",
        scored_only: dict[str, LanguageData] | None = None,
    ) -> list[dict]:
        """Every init at every budget on ``data``'s languages, in ``out``, and the paired
        contrast of the two named in ``contrast``, over those and ``scored_only``'s languages
        (fine-tuned into ``out`` before, not now)."""
        inits = initialisations.sources
        summary = run_budgets(initialisations, data, self.plan, out, test_set=test_set)
        a, b = (self.config.contrast + ("", ""))[:2]
        pairs = self.contrast_pairs(a, b)
        if all(name in inits for pair in pairs for name in pair):
            # whole test parts: each cell takes the first sentences its jobs translated
            tests = {
                lang: [english for _, english in d.test]
                for lang, d in {**(scored_only or {}), **data}.items()
            }
            contrast(out, pairs, tests)
            if self.config.checkpoints:
                points = [
                    (
                        cost,
                        self.contrast_pairs(f"{a}@{cost_label(cost)}", f"{b}@{cost_label(cost)}"),
                    )
                    for cost in self.config.checkpoints
                ]
                gap(out, points + [(trained_cost(inits[pairs[0][0]]), pairs)], tests)
        return summary

    def roles(self) -> LanguageRoles:
        """The language roles of the prepared corpus, or of the one that would be prepared."""
        if (self.corpus / "vocab" / "vocab.json").is_file():
            return load_corpus(self.corpus).roles
        return load_roles(self.config.corpus.roles or None)

    def check_plan(self, new_language: bool = False) -> None:
        """Languages and tracks the corpus has, before any preparation or training."""
        roles = self.roles()
        for track in self.config.tracks:
            roles.track(track)
        held_out = roles.languages("validation") + roles.languages("test")
        unknown = [lang for lang in self.config.languages if lang not in held_out]
        if unknown and not new_language:
            error = missing_language(unknown[0], f"the corpus {self.corpus}", held_out)
            raise ConfigError(f"languages: {error}")

    def tracks(self) -> list[str]:
        return list(self.config.tracks) or [load_corpus(self.corpus).roles.default_track()]

    def run(
        self,
        processes: int = 1,
        accelerate_config: str | None = None,
        port: int = 29500,
        new_language: dict[str, LanguageData] | None = None,
    ) -> list[dict]:
        """Prepare, train every run (or finish it), fine-tune on every track; with
        ``new_language`` (a user's files), fine-tune on that language instead, in OUT/<language>."""
        set_threads(self.config.threads)
        self.check_plan(bool(new_language))
        with hold_folder(self.out, "out_dir"):  # one comparison writes a folder
            return self.run_parts(processes, accelerate_config, port, new_language)

    def run_parts(
        self,
        processes: int,
        accelerate_config: str | None,
        port: int,
        new_language: dict[str, LanguageData] | None,
    ) -> list[dict]:
        self.ensure_corpus()
        self.train(list(self.run_configs), processes, accelerate_config, port)  # equal cost
        inits = Initialisations(  # each checked and hashed once, for every track
            self.inits(), self.corpus / "vocab", self.plan.seed, resolve_device(self.plan.device)
        )
        if new_language:
            summaries = {
                lang: self.finetune_on(new_language, self.out / lang, inits)
                for lang in new_language
            }
        else:
            summaries = {track: self.finetune(track, inits) for track in self.tracks()}
        if self.run_configs:
            table = plain_table(training_rows([self.out / name for name in self.run_configs]))
            (self.out / "training.md").write_text(table)
        return [row for summary in summaries.values() for row in summary]

    def report(self, parts: Sequence[str]) -> str:
        """What a finished comparison shows: training.md, and each part's (a track's, or your
        language's) summary.md and contrast.md."""
        texts = []
        if (self.out / "training.md").is_file() and self.run_configs:
            texts.append((self.out / "training.md").read_text())
        for part in parts:
            for name in ("summary.md", "contrast.md"):
                if (self.out / part / name).is_file():
                    texts.append(f"== {part}: {name}\n")
                    texts.append((self.out / part / name).read_text(encoding="utf-8"))
        return "".join(texts)

    def describe(self, new_language: bool = False) -> str:
        """What would run, as YAML: the corpus, each run's signature (built from its objects,
        once the corpus is prepared), the fine-tuning plan."""
        self.check_plan(new_language)
        prepared = (self.corpus / "vocab" / "vocab.json").is_file()
        runs = {
            name: {
                "out_dir": str(config.out_dir),
                "signature": Trainer(config, log=False).signature()
                if prepared
                else "built once the corpus is prepared",
                **({} if prepared else {"algorithm": to_dict(config.algorithm)}),
            }
            for name, config in self.run_configs.items()
        }
        plan = {
            "corpus": str(self.corpus) + (" (toy)" if self.config.corpus.toy else ""),
            "runs": runs,
            "threads": self.config.threads,
            **({"random": f"random:{self.config.random}"} if self.config.random else {}),
            "fine-tuning plan": to_dict(self.plan),
        }
        return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True).rstrip()
