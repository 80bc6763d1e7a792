"""One error tree with stable codes. Each façade maps ``code`` to its own envelope.

::

    DomainError (code "error")
    ├── NotFound ("not_found")
    │   ├── ChargerNotFound ("charger_not_found")
    │   ├── ConnectorNotFound ("connector_not_found")
    │   ├── SessionNotFound ("session_not_found")
    │   ├── TokenNotFound ("token_not_found")
    │   └── WebhookNotFound ("webhook_not_found")
    ├── Conflict ("conflict")
    │   ├── AlreadyExists ("already_exists")
    │   ├── ConnectorOccupied ("connector_occupied")
    │   ├── SessionNotActive ("session_not_active")
    │   └── PasswordChangeUnderWay ("password_change_under_way")
    ├── ChargerUnavailable ("charger_unavailable")
    │   └── ChargerOffline ("charger_offline")
    ├── NotAuthorized ("not_authorized")
    └── InvalidInput ("invalid_input")
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"


class _AboutOne(DomainError):
    """Base for errors about one thing named by its id: the message says what is wrong."""

    template = "{!r}"

    def __init__(self, subject: str) -> None:
        super().__init__(self.template.format(subject))
        self.subject = subject


class NotFound(DomainError):
    code = "not_found"


class ChargerNotFound(_AboutOne, NotFound):
    template = "no charger {!r}"
    code = "charger_not_found"


class ConnectorNotFound(NotFound):
    code = "connector_not_found"


class SessionNotFound(_AboutOne, NotFound):
    template = "no session {!r}"
    code = "session_not_found"


class TokenNotFound(_AboutOne, NotFound):
    template = "no id token {!r}"
    code = "token_not_found"


class WebhookNotFound(_AboutOne, NotFound):
    template = "no webhook {!r}"
    code = "webhook_not_found"


class Conflict(DomainError):
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class ConnectorOccupied(Conflict):
    code = "connector_occupied"


class SessionNotActive(Conflict):
    code = "session_not_active"


class PasswordChangeUnderWay(_AboutOne, Conflict):
    template = "a password change for charger {!r} is already under way"
    code = "password_change_under_way"


class ChargerUnavailable(DomainError):
    code = "charger_unavailable"


class ChargerOffline(_AboutOne, ChargerUnavailable):
    template = "charger {!r} is not connected"
    code = "charger_offline"


class NotAuthorized(DomainError):
    code = "not_authorized"


class InvalidInput(DomainError):
    code = "invalid_input"
