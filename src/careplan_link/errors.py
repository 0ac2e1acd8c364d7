"""The one exception tree of careplan_link.

    CareplanLinkError
     └── FormatError          a file's content or name cannot be read or written (.issues)

Later parts of the library add their families under `CareplanLinkError` (envelope, hub), so a
vendor can catch everything the library raises with one `except CareplanLinkError`. Bad content
in a file never raises anything but `FormatError`; programming errors (a wrong argument type)
raise the usual `TypeError` / `ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._issue import Issue

__all__ = ["CareplanLinkError", "FormatError"]


class CareplanLinkError(Exception):
    """Base class of every error careplan_link raises on purpose."""


class FormatError(CareplanLinkError, ValueError):
    """A file (or file name) that cannot be read, or records that cannot be written.

    `.issues` holds every problem found, each with file, record, line, column and 項目名 where
    they apply, and a message in Japanese and English.
    """

    issues: tuple[Issue, ...]

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        if not self.issues:
            raise ValueError("FormatError needs at least one issue")
        first = self.issues[0]
        more = len(self.issues) - 1
        suffix = f" (and {more} more issue{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first}{suffix}")
