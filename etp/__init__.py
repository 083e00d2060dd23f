"""Composition root: settings, wiring and the `etp` command line."""

__version__ = "0.1.0"
