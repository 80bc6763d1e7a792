"""Shared decoding of charger answers into :class:`CommandResult`."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import CommandResult, CommandStatus


class UnsupportedCommand(Exception):
    """The command has no translation for this protocol version."""


# Answers that mean "done" or "will be done" across actions of both versions.
_POSITIVE = frozenset({"Accepted", "Scheduled", "Unlocked", "RebootRequired"})


def decode_status(payload: dict[str, Any]) -> CommandResult:
    status = payload.get("status")
    if status is None or status in _POSITIVE:
        return CommandResult(CommandStatus.ACCEPTED, payload)
    return CommandResult(CommandStatus.REJECTED, payload)
