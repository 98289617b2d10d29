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
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import yaml

from metanmt.config import ConfigError, build_config, merge, read_yaml, resolve_sources
from metanmt.evaluation.report import plain_table, training_rows
from metanmt.run import export_best
from metanmt.schema import apply, setting, to_dict
from metanmt.threads import parse_threads, set_threads
from metanmt.trainer import Trainer
from metanmt.trainer.distributed import launch_command
from metanmt.translation.budgets import BudgetPlan, LanguageData, run_budgets
from metanmt.translation.contrast import contrast
from metanmt.translation.corpus import default_corpus_dir, load_corpus
from metanmt.translation.languages import load_roles
from metanmt.translation.model import PRESETS
from metanmt.translation.prepare import prepare
from metanmt.translation.sources import default_cache


@dataclass
class CorpusSpec:
    path: str = ""  # the prepared corpus; "" = $METANMT_CACHE/translation (translation-toy for toy)
    toy: bool = False  # prepare the made-up toy corpus (no data needed)
    source: str = ""  # raw data root to prepare from; "" = $METANMT_DATA, else a download
    roles: str = ""  # language roles YAML; "" = the MetaNMT split
    vocab_size: int = setting(8000, low=100)

    def folder(self) -> Path:
        if self.path:
            return Path(self.path)
        return default_cache() / "translation-toy" if self.toy else default_corpus_dir()


@dataclass
class CompareConfig(BudgetPlan):
    out_dir: str = "results/compare"  # runs in OUT/<name>, fine-tuning in OUT/<track>
    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    # name -> run config YAML (as for `metanmt train`), relative to the file that names it;
    # `name: null` in a later file drops a run
    runs: dict = setting({})
    shared: dict = setting({})  # run-config keys for every run (e.g. train: {max_target_tokens: N})
    random: str = setting("cpu", choices=("", *PRESETS))  # also fine-tune a random init of this size
    languages: tuple[str, ...] = ()  # () = the corpus' validation and test languages
    tracks: tuple[str, ...] = ()  # evaluation tracks, each in OUT/<track>; () = the corpus' first
    contrast: tuple[str, ...] = ("metanmt", "multinmt")  # A and B of contrast.md (when both run)
    threads: str = "0"  # torch CPU threads: N, 0 = torch's default, auto = one per idle core


def read_compare_yaml(path: Path) -> dict:
    """A compare YAML with its ``base:`` files, run config paths made absolute (each relative to
    the file that names it)."""
    return read_yaml(path, relative={"runs"})


def load_compare(path: str | Path, assignments: Sequence[str] = (),
                 only: Sequence[str] = ()) -> tuple[CompareConfig, dict]:
    """The comparison (only the runs named in ``only``, if given) and the nested dict of every
    key given (for reading them back)."""
    given = merge(read_compare_yaml(Path(path)), resolve_sources(None, assignments))
    config = apply(CompareConfig(), copy.deepcopy(given), "", "a comparison")
    unknown = sorted(set(only) - set(config.runs))
    if unknown:
        raise ConfigError(f"{path}: no run called {', '.join(map(repr, unknown))}; its runs: "
                          f"{', '.join(config.runs)}")
    config.runs = {name: run for name, run in config.runs.items()
                   if run and (not only or name in only)}
    given["runs"] = dict(config.runs)
    if not config.runs and not config.random:
        raise ConfigError(f"{path}: nothing to compare: no runs and no random initialisation")
    return config, given


class Comparison:
    """Built from a CompareConfig: the corpus folder, each run's config, the fine-tuning plan."""

    def __init__(self, config: CompareConfig):
        self.config = config
        try:
            parse_threads(config.threads)
        except ValueError as error:
            raise ConfigError(f"threads: {error}") from None
        self.out = Path(config.out_dir)
        self.corpus = config.corpus.folder()
        self.plan = BudgetPlan(**{f.name: copy.deepcopy(getattr(config, f.name))
                                  for f in dataclasses.fields(BudgetPlan)})
        self.run_sources = {name: self.run_sources_of(name, path)
                            for name, path in config.runs.items()}
        self.run_configs = {name: build_config(copy.deepcopy(values))
                            for name, values in self.run_sources.items()}

    def run_sources_of(self, name: str, path: str) -> dict:
        """The keys given for one run: its YAML, the shared keys, then where it goes."""
        values = merge(read_yaml(Path(path)), copy.deepcopy(self.config.shared))
        return merge(values, {"out_dir": str(self.out / name),
                              "translation": {"corpus": str(self.corpus)}})

    def settings(self) -> dict:
        """What the comparison uses, by key (read back to check that its YAML reached it)."""
        spec = self.config.corpus
        return {"out_dir": str(self.out), "corpus": {**vars(spec), "path": str(self.corpus)},
                "runs": {name: path for name, path in self.config.runs.items()
                         if name in self.run_configs},
                "random": self.config.random, "languages": self.config.languages,
                "tracks": self.config.tracks, "contrast": self.config.contrast,
                "threads": self.config.threads, **dataclasses.asdict(self.plan)}

    # -- the three parts -----------------------------------------------------------------------
    def prepare_corpus(self) -> None:
        spec = self.config.corpus
        if (self.corpus / "vocab" / "vocab.json").is_file():
            return
        prepare(spec.source or None, self.corpus, load_roles(spec.roles or None),
                vocab_size=spec.vocab_size, toy=spec.toy)

    def train(self, name: str, processes: int = 1, accelerate_config: str | None = None,
              port: int = 29500) -> None:
        """Train (or finish) one run; under accelerate launch when asked for several processes."""
        if processes > 1 or accelerate_config:
            folder = self.out / name
            folder.mkdir(parents=True, exist_ok=True)
            config_file = folder / "config.yaml"
            config_file.write_text(yaml.safe_dump(self.run_sources[name], sort_keys=False))
            args = ["--config", str(config_file), "--resume", "--threads",
                    str(self.config.threads)]
            command = launch_command(processes, port, args, accelerate_config)
            if subprocess.run(command).returncode != 0:
                raise RuntimeError(f"training {name} under accelerate launch failed")
            return
        trainer = Trainer(self.run_configs[name])
        trainer.fit(resume=True)
        print(f"{name}: {trainer.step} steps, {trainer.cost:,} target tokens, best validation "
              f"{trainer.val_metric} {trainer.best:.4f}")
        export_best(trainer.out)

    def finetune(self, track: str) -> list[dict]:
        """Every init at every budget on ``track``: results and summary in OUT/<track>/."""
        corpus = load_corpus(self.corpus)
        languages = self.config.languages or \
            tuple(corpus.languages("validation") + corpus.languages("test"))
        data = {lang: LanguageData(*corpus.track_pairs(lang, track)) for lang in languages}
        return self.finetune_on(data, self.out / track)

    def finetune_on(self, data: dict[str, LanguageData], out: Path) -> list[dict]:
        """Every init at every budget on ``data``'s languages, in ``out``, and the paired
        contrast of the two named in ``contrast``."""
        inits = {name: str(self.out / name) for name in self.run_configs}
        if self.config.random:
            inits["random"] = f"random:{self.config.random}"
        summary = run_budgets(inits, data, self.plan, out, self.corpus / "vocab")
        a, b = (self.config.contrast + ("", ""))[:2]
        if a in inits and b in inits:
            tests = {lang: [english for _, english in d.test[: self.plan.test_sentences or None]]
                     for lang, d in data.items()}
            contrast(out, a, b, tests)
        return summary

    def tracks(self) -> list[str]:
        return list(self.config.tracks) or [load_corpus(self.corpus).roles.default_track()]

    def run(self, processes: int = 1, accelerate_config: str | None = None,
            port: int = 29500, new_language: dict[str, LanguageData] | None = None) -> list[dict]:
        """Prepare, train every run (or finish it), fine-tune on every track; with
        ``new_language`` (a user's files), fine-tune on that language instead, in OUT/<language>."""
        set_threads(self.config.threads)
        self.prepare_corpus()
        for name in self.run_configs:  # the same training cost for each: equal data and compute
            self.train(name, processes, accelerate_config, port)
        if new_language:
            summaries = {lang: self.finetune_on(new_language, self.out / lang)
                         for lang in new_language}
        else:
            summaries = {track: self.finetune(track) for track in self.tracks()}
        if self.run_configs:
            table = plain_table(training_rows([self.out / name for name in self.run_configs]))
            (self.out / "training.md").write_text(table)
            print(table, end="")
        for track in summaries:
            for name in ("summary.md", "contrast.md"):
                if (self.out / track / name).is_file():
                    print(f"== {track}: {name}")
                    print((self.out / track / name).read_text(encoding="utf-8"), end="")
        return [row for summary in summaries.values() for row in summary]

    def describe(self) -> str:
        """What would run: the corpus, each run's signature (built from its objects, once the
        corpus is prepared), the fine-tuning plan."""
        lines = [f"corpus: {self.corpus}" + (" (toy)" if self.config.corpus.toy else "")]
        prepared = (self.corpus / "vocab" / "vocab.json").is_file()
        for name, config in self.run_configs.items():
            built = Trainer(config, log=False).signature() if prepared else \
                f"algorithm {to_dict(config.algorithm)} (built once the corpus is prepared)"
            lines.append(f"run {name} -> {config.out_dir}: {built}")
        if self.config.random:
            lines.append(f"random initialisation: random:{self.config.random}")
        lines.append(f"fine-tuning plan: {to_dict(self.plan)}")
        return "\n".join(lines)
