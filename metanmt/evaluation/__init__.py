"""Adapt-then-measure over fixed task sets: confidence intervals, tables, plots."""

from metanmt.evaluation.evaluate import adaptation_curve, mean_ci95
from metanmt.evaluation.report import markdown_table, write_csv

__all__ = ["adaptation_curve", "markdown_table", "mean_ci95", "write_csv"]
