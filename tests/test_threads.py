"""threads=auto: one torch thread per core that other processes leave idle."""

import argparse

import pytest
import torch

from metanmt import threads
from metanmt.threads import IdleCores
from metanmt.values import as_argument, parse_threads

threads_arg = as_argument(parse_threads)  # what --threads reads with


def test_parse_threads_takes_auto_and_counts_and_names_bad_values():
    assert parse_threads("auto") == "auto" and parse_threads("AUTO") == "auto"
    assert parse_threads(2) == 2 and parse_threads("0") == 0
    for bad in ("-1", "two", "1.5", ""):
        with pytest.raises(ValueError, match="threads must be 'auto' or a whole number"):
            parse_threads(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="got 'x'"):
        threads_arg("x")


@pytest.mark.parametrize(
    "machine_busy, own, expected",
    [
        (2.0, 1.0, 1),  # both cores busy, half of it ours: one busy process beside us -> 1 thread
        (2.0, 2.0, 2),  # all the load is ours -> every core
        (1.0, 1.0, 2),  # we ran on one thread, nobody else -> back to 2
        (0.2, 0.0, 2),  # a little noise is not a busy core
        (2.0, 0.0, 1),  # two other busy processes: never fewer than 1
    ],
)
def test_threads_follow_other_processes_load_not_our_own(machine_busy, own, expected):
    cores = IdleCores.__new__(IdleCores)
    cores.cores = 2
    before, after = (0.0, 100.0, 10.0), (10.0, 100.0 + 10 * machine_busy, 10.0 + 10 * own)
    assert cores.threads_for(before, after) == expected


def test_auto_sets_a_thread_count_and_rechecks_only_every_interval(monkeypatch):
    previous = torch.get_num_threads()
    try:
        cores = IdleCores()
        assert cores.sample() is not None  # Linux /proc/stat, per core of our affinity
        samples = iter([(100.0, 0.0, 0.0), (101.0, 2.0, 1.0)])  # one core busy elsewhere
        monkeypatch.setattr(cores, "sample", lambda: next(samples))
        cores.cores, cores.last = 2, (0.0, 0.0, 0.0)
        monkeypatch.setattr(threads.time, "monotonic", lambda: 5.0)
        cores.adjust()  # 5 s after the last check: too soon, nothing read
        assert cores.last == (0.0, 0.0, 0.0)
        monkeypatch.setattr(threads.time, "monotonic", lambda: 100.0)
        cores.adjust()  # first sample: 100 s at 0 busy -> 2 threads
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(threads.time, "monotonic", lambda: 101.0)
        cores.adjust(force=True)  # 1 s, 2 CPU-s busy, 1 ours -> one core taken elsewhere
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_a_comparison_refuses_a_bad_threads_value_and_keeps_auto():
    from metanmt.config import ConfigError
    from metanmt.translation.comparison import Comparison, load_compare

    config, _ = load_compare("recipes/configs/compare/quick.yaml", ["threads=many"])
    with pytest.raises(ConfigError, match="threads: threads must be 'auto' or a whole number"):
        Comparison(config)
    config, _ = load_compare("recipes/configs/compare/cpu.yaml")
    assert Comparison(config).settings()["threads"] == "auto"
