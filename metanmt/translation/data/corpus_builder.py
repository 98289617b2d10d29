"""Writing a corpus safely: ``CorpusBuilder`` builds it in ``<out>.tmp`` language by language (each
language's splits streamed to scratch Arrow files, then saved as a DatasetDict and entered in the
manifest), recounts its leakage, and only then swaps it in for whatever was at ``<out>``, which a
failure leaves as it was. A folder that is not a prepared corpus is never replaced.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
from datasets import DatasetDict

from metanmt.files import fresh_dir, swap_in
from metanmt.translation.data.corpus_reader import FORMAT_VERSION, MANIFEST
from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.filtering import SplitWriter
from metanmt.translation.data.language_codes import iso639_3
from metanmt.translation.data.languages import LanguageRoles, roles_to_dict
from metanmt.translation.data.leakage import check_leakage


def check_replaceable(out: Path) -> None:
    """Refuse an ``out`` that exists and is not a prepared corpus (a file, or a folder with files
    but no manifest): it would be replaced whole."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())
    ):
        raise CorpusError(
            f"refusing to replace {out}: it exists and is not a prepared corpus "
            f"(no {MANIFEST}); choose another output folder"
        )


class CorpusBuilder:
    """A corpus built in ``out.tmp``, language by language, then leakage-checked and renamed into
    place (an existing corpus at ``out`` is replaced only then; on any error it stays)."""

    def __init__(self, out: Path, roles: LanguageRoles, source: str, settings: dict | None = None):
        self.out, self.roles = Path(out), roles
        check_replaceable(self.out)
        self.tmp = fresh_dir(self.out)  # (emptied: a crashed earlier run)
        self.scratch = self.tmp / ".streams"
        self.scratch.mkdir()
        self.manifest = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "roles": roles_to_dict(roles),
            **(settings or {}),
            "languages": {},
        }

    def __enter__(self) -> CorpusBuilder:
        self._bars_were_off = datasets.utils.are_progress_bars_disabled()
        datasets.utils.disable_progress_bars()
        return self

    def __exit__(self, kind, error, trace) -> None:
        if not self._bars_were_off:
            datasets.utils.enable_progress_bars()
        if error is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def writer(self, lang: str, split: str, dedupe: bool = True) -> SplitWriter:
        return SplitWriter(self.scratch / f"{lang}.{split}.arrow", dedupe)  # (a worker's: the same)

    def add_language(
        self, lang: str, writers: dict[str, SplitWriter], dropped: dict, **info
    ) -> None:
        expected = sorted(self.roles.splits(lang))
        if sorted(writers) != expected:
            raise CorpusError(
                f"{lang!r} ({self.roles.role_of(lang)}) needs the splits "
                f"{expected}, got {sorted(writers)}"
            )
        data, stats = {}, {}
        for split, writer in writers.items():
            data[split], stats[split], duplicates = writer.finish()
            if split in ("train", "pool"):  # a track's own pool is a view of the same data
                dropped["duplicate"] += duplicates
        # One shard each: datasets cannot load back an empty split saved with zero shards.
        DatasetDict(data).save_to_disk(str(self.tmp / lang), num_shards=dict.fromkeys(data, 1))
        for writer in writers.values():
            writer.path.unlink()
        self.manifest["languages"][lang] = {
            "role": self.roles.role_of(lang),
            "iso639_3": iso639_3(lang),
            **info,
            "dropped": dropped,
            "splits": stats,
        }

    def finish(self, num_proc: int | None = 1) -> dict:
        shutil.rmtree(self.scratch)
        (self.tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        leaked = check_leakage(self.tmp, num_proc)
        if leaked:  # a bug in whatever made the splits, never a property of the data
            raise CorpusError(
                f"leakage check failed: {leaked} dev/test sentences are in a "
                f"training split or pool of {self.tmp}"
            )
        self.manifest["leakage_check"] = leaked
        (self.tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        swap_in(self.tmp, self.out)  # synced, then renamed: never half-written
        return self.manifest
