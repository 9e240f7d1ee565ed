"""Errors a user can act on. The CLI prints them as one line and exits non-zero; nothing else is fatal."""


class LineageError(Exception):
    """A fatal, user-facing error: missing folder, home not writable, unknown token, busy home."""
