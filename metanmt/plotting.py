"""Matplotlib, set up once for every figure metanmt draws: the Agg backend (files only; no display
on servers), chosen before pyplot is imported, and ``plt``. A light module on the core's floor, so
that a task family's figures (sine's), the evaluation's and translation's take ``plt`` from here
without importing anything above them."""

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
