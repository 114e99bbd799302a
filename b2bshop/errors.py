"""Domain errors: raised by services, shown to the user by views in the user's language."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can act on. `message` is a lazy translated string."""

    #: HTTP status a view answers with when it does not redirect.
    status_code = 422

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


class NotFound(DomainError):
    status_code = 404
