"""Keeping API keys out of everything the server says.

Every key the server obtains is remembered here; `redact` replaces them in
any text, and `RedactingFilter` does it for every log record, at any level.
"""

from __future__ import annotations

import logging

_secrets: set[str] = set()
_MASK = "[redacted]"


def remember_secret(secret: str) -> None:
    if len(secret) >= 4:
        _secrets.add(secret)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
