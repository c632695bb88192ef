"""The one place that decides what a secret looks like and how it is masked.

Secrets live in three shapes in the settings: :class:`~pydantic.SecretStr` fields, credentials
inside URLs (``redis://user:pw@host``, ``https://user:pw@llm/v1``, ``?api_key=``), and entries
of free-form maps whose key names a secret (``kafka.extra`` ``sasl.password``, a
``request_extra`` header ``Authorization`` or ``api-key``). :func:`mask_secrets` renders any
such value for display (``config show``, start-up log lines); :func:`secret_values` collects
the plain secret strings of a settings object so that :func:`install_redaction` can cut them
out of every log record and error message of the process, whatever library wrote them.

>>> mask_secrets({"url": "redis://app:hunter2@db:6379/0",
...               "extra": {"sasl.password": "pw", "linger.ms": "5"},
...               "headers": {"Authorization": "Bearer sk-1"}})
{'url': 'redis://app:**********@db:6379/0', 'extra': {'sasl.password': '**********', \
'linger.ms': '5'}, 'headers': {'Authorization': '**********'}}
>>> sorted(secret_values({"url": "https://u:p4ss@h/v1?api_key=k3y", "n": 3}))
['k3y', 'p4ss']
>>> redact("connect to redis://:hunter2@db failed", {"hunter2"})
'connect to redis://:**********@db failed'
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "**********"
MIN_SECRET_CHARS = 4
"""Shorter values are not redacted from free text (they would mangle every message)."""

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?\b|secret|token\b|api[-_.]?key|authori[sz]ation|credential|cookie"
    r"|private|signing|\.pem$|jaas|oauthbearer\.config", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_BEARER = re.compile(r"^(bearer|basic|token)\s+(\S+)$", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """Does a map key (a librdkafka option, a header, a JSON field) name a secret?

    >>> [is_secret_key(k) for k in ("sasl.password", "api-key", "linger.ms", "key_prefix")]
    [True, True, False, False]
    """
    return bool(_SECRET_KEY.search(name))


def mask_url(url: str) -> str:
    """``url`` with the password of its user info and secret query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if password else f"{MASK}@{host}"
    query = parts.query
    if query:
        query = urlencode([(k, MASK if is_secret_key(k) else v)
                           for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_secrets(value: Any, *, key: str = "") -> Any:
    """A copy of ``value`` (settings dump, map, list, scalar) safe to print."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, SecretStr):
        plain = value.get_secret_value()
        return mask_url(plain) if _URL.match(plain) else MASK
    if isinstance(value, Mapping):
        return {k: mask_secrets(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, key=key) for v in value]
    if isinstance(value, str):
        if key and is_secret_key(key):
            return MASK
        return mask_url(value) if _URL.match(value) else value
    if value is not None and not isinstance(value, bool | int | float):
        return str(value)
    return value


def secret_values(value: Any, *, key: str = "") -> set[str]:
    """Every plain secret string inside ``value`` (a settings object, map, list...)."""
    if isinstance(value, BaseModel):
        found: set[str] = set()
        for name in type(value).model_fields:
            found |= secret_values(getattr(value, name), key=name)
        return found
    if isinstance(value, SecretStr):
        plain = value.get_secret_value()
        return (_url_secrets(plain) if _URL.match(plain) else set()) | {plain}
    if isinstance(value, Mapping):
        return set().union(*(secret_values(v, key=str(k)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(secret_values(v, key=key) for v in value))
    if isinstance(value, str):
        if key and is_secret_key(key):
            bearer = _BEARER.match(value)
            return {value, bearer.group(2)} if bearer else {value}
        return _url_secrets(value) if _URL.match(value) else set()
    return set()


def _url_secrets(url: str) -> set[str]:
    parts = urlsplit(url)
    found = {parts.password} if parts.password else set()
    found |= {v for k, v in parse_qsl(parts.query) if is_secret_key(k) and v}
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret of ``secrets`` (longest first) replaced by the mask."""
    for secret in sorted((s for s in secrets if len(s) >= MIN_SECRET_CHARS), key=len,
                         reverse=True):
        text = text.replace(secret, MASK)
    return text


_known: set[str] = set()
_lock = threading.Lock()
_installed = False


def known_secrets() -> frozenset[str]:
    """The secrets registered with :func:`install_redaction` in this process."""
    return frozenset(_known)


def redact_known(text: str) -> str:
    """``text`` without the secrets registered in this process (for messages not logged)."""
    return redact(text, known_secrets())


def install_redaction(*settings: Any) -> None:
    """Cut the secrets of ``settings`` out of every log record of this process from now on
    (message, arguments and traceback), whichever logger or handler writes it."""
    global _installed
    with _lock:
        for item in settings:
            _known.update(s for s in secret_values(item) if len(s) >= MIN_SECRET_CHARS)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _known:
                _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        hook = sys.excepthook

        def excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
            if not _known:
                hook(kind, exc, tb)
                return
            sys.stderr.write(redact_known("".join(traceback.format_exception(kind, exc, tb))))

        sys.excepthook = excepthook
        _installed = True


def _redact_record(record: logging.LogRecord) -> None:
    secrets = known_secrets()
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a broken format string: leave it to the handler
        return
    record.msg, record.args = redact(message, secrets), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info), secrets)
