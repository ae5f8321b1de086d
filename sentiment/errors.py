"""User-facing errors.

Every error a user can cause (bad file, bad column, bad config, bad model
directory) is raised as a :class:`SentimentError` subclass with a message that
names the bad value, where it was found and how to fix it. The command line
prints the message without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations


class SentimentError(Exception):
    """Base class for errors caused by user input; printed without traceback."""

    exit_code = 2


class ConfigError(SentimentError):
    """A configuration file or override is invalid."""


class DataError(SentimentError):
    """An input data file cannot be read or lacks what is needed."""


class BundleError(SentimentError):
    """A model directory is missing, incomplete, modified or unsupported."""


class TaggerError(SentimentError):
    """A KoNLPy tagger (or the JVM it needs) cannot be started."""


class OutputExistsError(SentimentError):
    """The output path exists and ``--overwrite`` was not given."""
