"""Errors the layers raise for the web and CLI to turn into clear answers."""

from __future__ import annotations


class NotFound(LookupError):
    """The object does not exist *or* lies outside the caller's areas (never say which)."""


class Invalid(ValueError):
    """Input refused; ``message`` is for the user (Chinese / English), ``field`` where it failed."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
