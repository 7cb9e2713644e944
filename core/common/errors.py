"""Domain errors, in one place.

A *user error* (bad config, bad data, bad usage) ends the command with exit code 2 and one
line that names the file, key, column or row at fault; it never shows a traceback.
A *statistics error* is raised by an estimator that cannot give a meaningful answer
(no events, separation, non-convergence); analyses turn it into a flag or a one-line
message in their section.
"""

from __future__ import annotations


class CohortpressError(Exception):
    """Base class of every error the project raises on purpose."""


class UserError(CohortpressError):
    """Something the user can fix: bad config, bad data or bad usage (exit code 2).

    Parameters
    ----------
    message : str
        What is wrong, in one sentence.
    file : str, optional
        The file at fault (config or cohort), shown first.
    key : str, optional
        The config key path, such as ``section[2].variables[0].test``.
    column : str, optional
        The cohort column at fault.
    row : int or str, optional
        The row (1-based data row, or the patient id) at fault.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 column: str | None = None, row: int | str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.key = key
        self.column = column
        self.row = row

    def one_line(self) -> str:
        """The message as the command line prints it: ``file: key 'k': column 'c': message``."""
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.key:
            parts.append(f"key '{self.key}'")
        if self.column:
            parts.append(f"column '{self.column}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        text = " ".join(self.message.split())
        return ": ".join(parts + [text]) if parts else text

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(UserError):
    """The config file is invalid."""


class DataError(UserError):
    """The cohort data is invalid for what the config asks of it."""


class StatisticsError(CohortpressError):
    """An estimator cannot give a meaningful result (no events, separation, no convergence)."""


class PluginError(CohortpressError):
    """A plugin failed to load or returned something the core cannot use."""
