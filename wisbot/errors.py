"""Exceptions that carry a message meant for a person.

::

    WisbotError                 a refusal or failure a user may read as is
    ├── UsageError              malformed command: the usage and an example are appended
    ├── NotFound                unknown incident, centre, GISC, query, lesson...
    ├── NotAllowed              the caller's role does not permit this
    ├── UnknownIdentity         a chat identity that is not in the directory
    ├── InvalidState            e.g. lessons on an incident that is not resolved
    ├── DirectoryError          the directory file is invalid (names file, entry, field)
    └── NotMigrated             the database schema is behind the code
"""

from __future__ import annotations


class WisbotError(Exception):
    """Base of every error whose message a user may read."""


class UsageError(WisbotError):
    pass


class NotFound(WisbotError):
    pass


class NotAllowed(WisbotError):
    pass


class UnknownIdentity(WisbotError):
    pass


class InvalidState(WisbotError):
    pass


class DirectoryError(WisbotError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class NotMigrated(WisbotError):
    pass
