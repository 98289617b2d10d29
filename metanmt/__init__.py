"""metanmt: meta-learning an initialisation that adapts from very little data."""

__version__ = "0.2.0"
