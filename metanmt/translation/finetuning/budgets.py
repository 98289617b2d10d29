"""BLEU against data size, the runner: fine-tune each initialisation on each language at each
word budget over several draws (``job.one_job``), language by language and budget by budget, each
result kept as it finishes (``results.Results``), so an interrupted run resumes where it stopped;
then the summary (``summary.summarize``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from metanmt.folder_lock import hold_folder
from metanmt.progress import progress_bar
from metanmt.schema import check_defaults
from metanmt.trainer.memory import bound_heap_growth
from metanmt.translation.data.vocab import BYTE_SHARE_WARNING, byte_share
from metanmt.translation.finetuning.finetune import english_words
from metanmt.translation.finetuning.job import Initialisations, one_job
from metanmt.translation.finetuning.language_data import LanguageData
from metanmt.translation.finetuning.results import Results, job_key
from metanmt.translation.finetuning.summary import summarize
from metanmt.translation.model import resolve_device
from metanmt.translation.settings import WHOLE_POOL, BudgetPlan, parse_budget

log = logging.getLogger(__name__)


def run_budgets(
    inits: dict[str, str] | Initialisations,
    languages: dict[str, LanguageData],
    plan: BudgetPlan,
    out_dir: str | Path,
    vocab: str | Path | None = None,
    test_set: str = "",
) -> list[dict]:
    """Fine-tune and score every (init, language, budget, draw); returns the summary rows.
    ``inits``: name -> source (a run, a saved model, random:SIZE), or ``Initialisations``
    already checked (several calls of one command share them: each checked and hashed once).
    The plan, every initialisation and language are checked before any work starts; the
    folder is locked while it is written. ``test_set`` says what the test sets are, in the
    cards of saved models."""
    check_defaults(plan)
    if not isinstance(inits, Initialisations):
        inits = Initialisations(inits, vocab, plan.seed, resolve_device(plan.device))
    say_unused_entries(plan, inits.sources)
    data_ids = {language: data.check(language) for language, data in languages.items()}
    out = Path(out_dir)
    with hold_folder(out_dir, "out_dir"):  # one process writes a results folder ("" refused)
        results = Results(out)
        jobs = plan_jobs(plan, inits.sources, languages)
        keys = {
            job: job_key(inits.identities[job[0]], data_ids[job[1]], job[2], job[3], plan)
            for job in jobs
        }
        todo = [job for job in jobs if not results.done(job, keys[job])]
        if len(todo) < len(jobs):
            log.info(
                f"resuming: {len(jobs) - len(todo)} of {len(jobs)} fine-tunings already in "
                f"{results.path}"
            )
        bound_heap_growth()
        if todo and not plan.finetune.extend_vocab:
            warn_byte_heavy(inits, languages)
        for job in progress_bar(todo, desc="budgets", dynamic_ncols=True):
            row = one_job(inits, job, languages[job[1]], plan, out, test_set)
            results.add(row, keys[job])
        return summarize(out)


def say_unused_entries(plan: BudgetPlan, inits: dict) -> None:
    """A preset's draws_by_budget or draws_by_init entry whose cell --budgets or random=''
    dropped: said, not fatal."""
    for what, keys, known in (
        ("draws_by_budget", map(parse_budget, plan.draws_by_budget), plan.budgets),
        ("draws_by_init", plan.draws_by_init, inits),
    ):
        unused = [str(k) for k in keys if k not in known]
        if unused:
            log.info(
                f"{what}: {', '.join(unused)} not among the {what.split('_')[-1]}s "
                f"{', '.join(map(str, known))}; its entry has no effect"
            )


def plan_jobs(plan: BudgetPlan, inits: dict, languages: dict[str, LanguageData]) -> list[tuple]:
    """Every (init, language, budget, draw), language by language and budget by budget: a run
    stopped part-way holds whole cells."""
    return [
        (name, language, budget, draw)
        for language in languages
        for budget, asked in effective_budgets(plan.budgets, languages[language], language).items()
        for name in inits
        for draw in range(draws_of(plan, name, asked))
    ]


def effective_budgets(budgets, data: LanguageData, language: str) -> dict[int, list[int]]:
    """Each budget the pool can fill, and the whole pool once for every one it cannot: effective
    budget -> the budgets asked for that it stands for."""
    held = english_words(data.pool)
    out: dict[int, list[int]] = {}
    for b in budgets:
        out.setdefault(WHOLE_POOL if b == WHOLE_POOL or b >= held else b, []).append(b)
    capped = [b for b in budgets if b != WHOLE_POOL and b >= held]
    if capped:
        several = len(capped) > 1
        log.info(
            f"{language}: the pool holds {held:,} English words; the budget"
            f"{'s' if several else ''} {', '.join(map(str, capped))} "
            f"use{'' if several else 's'} all of it"
        )
    return out


def draws_of(plan: BudgetPlan, name: str, asked: list[int]) -> int:
    """Draws of one cell: one at zero-shot; else ``draws_by_budget`` (the most over the budgets
    the cell stands for) or ``draws``, at most ``draws_by_init[name]``."""
    if asked == [0]:
        return 1
    by_budget = {parse_budget(k): int(v) for k, v in plan.draws_by_budget.items()}
    draws = max(by_budget.get(b, plan.draws) for b in asked)
    return min(draws, int(plan.draws_by_init.get(name, draws)))


def warn_byte_heavy(initialisations: Initialisations, languages: dict[str, LanguageData]) -> None:
    """Say so when an initialisation's vocabulary spells most of a language in bytes (a toy
    vocabulary on a real language): fine-tuning then works on long byte sequences. Once per
    vocabulary and language: initialisations that share a vocabulary are named together."""
    tokenizers = {name: initialisations.fresh(name)[1] for name in initialisations.sources}
    for language, data in languages.items():
        sample = [source for source, _ in data.pool[:500]]
        heavy: dict[tuple[int, float], list[str]] = {}
        for name, tokenizer in tokenizers.items():
            share = byte_share(tokenizer, sample)
            if share > BYTE_SHARE_WARNING:
                heavy.setdefault((len(tokenizer), share), []).append(name)
        for (entries, share), names in heavy.items():
            log.warning(
                f"warning: the vocabulary of {', '.join(names)} ({entries} entries) spells "
                f"{share:.0%} of {language}'s source pieces in bytes: it was not made for this "
                f"language (a toy vocabulary on real text?), so fine-tuning works on long byte "
                f"sequences. Start from an initialisation whose vocabulary covers {language}, "
                f"or add pieces with --extend-vocab (README)"
            )
