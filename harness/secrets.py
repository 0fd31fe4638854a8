"""The one redaction step: secret values in use never leave a process.

Secrets are known by where they come from, not guessed from text: the values of the environment
variables a model spec names (any ``*_env`` field) and the password of any URL it uses. Each is
registered with the process (``use_params``); every text that leaves it goes through ``redact`` (or
``redact_data``), which masks the secret in its plain, URL-encoded, JSON-escaped, base64 and HTTP
Basic forms and any 8+ character prefix a truncation left. Inline secrets in a catalog are refused.

Kept free of heavy imports: the cell worker loads it and its memory is what we measure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET = 4  # shorter values are not masked (they would garble every text)
MIN_PREFIX = 8  # a cut-off secret keeps at most this many characters minus one

# name parts (split on _ - .) that mark a field or header as holding a credential
_SECRET_PARTS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "auth", "authorization",
     "cookie", "credential", "credentials", "session", "signature", "bearer"}
)  # fmt: skip
_SECRET_WORDS = ("secret", "password", "passwd", "apikey", "accesstoken", "authtoken", "bearer", "cookie", "credential")
_TOKEN_VALUE = re.compile(
    r"^\s*(bearer|basic|token|digest)\s+\S+|^\s*(sk|pk|rk|ghp|gho|ghs|xox[abpr]|hf|glpat)[-_][A-Za-z0-9_-]{8,}",
    re.IGNORECASE,
)
_OPAQUE = re.compile(r"^[A-Za-z0-9_\-.=+/]{24,}$")
_KEEP_IN_ENV = "keep it in an environment variable (api_key_env, header_env)"


def looks_secret_name(name: str) -> bool:
    """Whether a field or header name says it carries a credential (``api_key``, ``X-Auth-Token``)."""
    lowered = name.strip().lower()
    if any(part in _SECRET_PARTS for part in re.split(r"[_\-.\s]+", lowered)):
        return True
    compact = re.sub(r"[^a-z]", "", lowered)  # camelCase and run-together names: apiKey, accessToken
    return any(word in compact for word in _SECRET_WORDS)


def looks_secret_value(value: str) -> bool:
    """Whether a header or body value looks like a literal credential (a bearer token, sk-..., a long opaque string)."""
    if _TOKEN_VALUE.search(value):
        return True
    return bool(_OPAQUE.match(value)) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def url_password(url: str) -> str | None:
    """The password in ``scheme://user:pass@host``, if the URL has one."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def strip_credentials(url: str) -> str:
    """``url`` without ``user:pass@``: what may be stored and shown."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port is not None else "")
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    return urlunsplit(parts._replace(netloc=netloc))


def _forms(secret: str) -> set[str]:
    """The ways a secret shows up in text: as is, URL-encoded, JSON-escaped, base64-encoded."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], *_base64_forms(secret)}


def _base64_forms(secret: str) -> set[str]:
    """The secret base64-encoded (standard and URL-safe), wherever it sits in an encoded blob: at each of the
    3 byte alignments, the characters made of its own bits alone (its end characters mix in neighbours' bits)."""
    raw = secret.encode("utf-8")
    forms = {base64.b64encode(raw).decode("ascii")}
    for shift in range(3):  # the value's first byte at offset 0, 1 or 2 of a 3-byte group
        encoded = base64.b64encode(bytes(shift) + raw).decode("ascii")
        first = -(-8 * shift // 6)  # the first character without a bit of the bytes before
        last = (8 * (shift + len(raw))) // 6  # the end of the last character without a bit of those after
        forms.add(encoded[first:last])
    return forms | {form.replace("+", "-").replace("/", "_") for form in forms}


def _url_secrets(url: str) -> list[str]:
    password = url_password(url)
    if not password:
        return []
    user = unquote(urlsplit(url).username or "")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()  # the Authorization header httpx sends
    return [password, basic]


def secrets_of_params(params: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret values a model's params put in use: ``*_env`` variables' values, URL passwords."""
    env = os.environ if environ is None else environ
    found: list[str] = []
    for key, value in params.items():
        if str(key).endswith("_env"):
            names = list(value.values()) if isinstance(value, Mapping) else [value]
            for name in names:
                held = env.get(str(name), "") if isinstance(name, str) else ""
                if "://" in held:
                    found += _url_secrets(held)  # a URL is not itself secret; its password is
                elif held:
                    found.append(held)
        elif isinstance(value, Mapping):
            found += secrets_of_params(value, env)
        elif isinstance(value, list):  # e.g. a cascade's tiers: whole model specs
            found += [secret for item in value if isinstance(item, Mapping) for secret in secrets_of_params(item, env)]
        elif isinstance(value, str) and looks_secret_name(str(key)):
            found.append(value)  # refused in a catalog, but a spec built in code may still carry one
        elif isinstance(value, str) and "://" in value:
            found += _url_secrets(value)
    return found


class Redactor:
    """Replaces known secrets (and their long prefixes) in text and in nested records."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Learn more secret values (idempotent)."""
        with self._lock:
            known = {form for value in values for form in _forms(value) if len(form) >= MIN_SECRET}
            self._secrets = sorted(known | set(self._secrets), key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret, and every prefix of 8+ characters of one, masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        # only then what a cut left: one form's prefix (e.g. the URL-safe encoding's) must not eat
        # into a whole occurrence of another form that shares its first characters
        for secret in self._secrets:
            if len(secret) > MIN_PREFIX:
                text = _mask_prefixes(text, secret)
        return text

    def data(self, value: Any) -> Any:
        """A copy of a record (dicts, lists, strings) with every string redacted."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v) for v in value)
        return value


def _mask_prefixes(text: str, secret: str) -> str:
    """Mask what is left of ``secret`` where a truncation cut it: a run of its first 8+ characters."""
    head = secret[:MIN_PREFIX]
    start = text.find(head)
    while start >= 0:
        end = start + MIN_PREFIX
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + MASK + text[end:]
        start = text.find(head, start + len(MASK))
    return text


_PROCESS = Redactor()


def use_params(params: Iterable[Mapping[str, Any]]) -> None:
    """Register the secrets of these model params with this process's redaction step."""
    _PROCESS.add(value for p in params for value in secrets_of_params(p))


def secrets_known() -> bool:
    """Whether this process knows any secret to redact."""
    return bool(_PROCESS)


def redact(text: str) -> str:
    """``text`` with every secret this process knows masked."""
    return _PROCESS.text(text) if _PROCESS else text


def redact_data(value: Any) -> Any:
    """A record with every string redacted (see ``redact``)."""
    return _PROCESS.data(value)


def clip(text: str, limit: int) -> str:
    """Redact, cut to ``limit`` characters, redact again: a cut never leaves part of a secret."""
    return redact(redact(text)[:limit])


def inline_secret(params: Mapping[str, Any], where: str = "params") -> str | None:
    """The first field of ``params`` that holds a literal credential, as ``'where.field: hint'``; None if none."""
    for key, value in params.items():
        name = str(key)
        field = f"{where}.{name}"
        if name.endswith("_env"):
            continue
        if isinstance(value, str) and url_password(value):
            return (
                f"{field}: the URL holds a password; put the URL in an environment variable and name it in '{name}_env'"
            )
        if isinstance(value, Mapping):
            headers = name.lower() in {"headers", "extra_headers", "default_headers"}
            values_too = headers or name.lower().endswith("body")  # a header's or body's value may be a bare token
            for inner, item in value.items():
                scalar = isinstance(item, str | int | float) and not isinstance(item, bool)
                if scalar and (looks_secret_name(str(inner)) or (values_too and looks_secret_value(str(item)))):
                    how = "name an environment variable in 'header_env'" if headers else _KEEP_IN_ENV
                    return f"{field}.{inner}: a credential written inline; {how} instead"
            if nested := inline_secret({k: v for k, v in value.items() if isinstance(v, Mapping)}, field):
                return nested
            continue
        if isinstance(value, list):
            items = (inline_secret(item, f"{field}.{i}") for i, item in enumerate(value) if isinstance(item, Mapping))
            if nested := next((found for found in items if found), None):
                return nested
            continue
        if looks_secret_name(name) and value not in (None, "", False):
            return f"{field}: a credential written inline; name an environment variable with 'api_key_env' instead"
    return None


class RedactingStream:
    """A text stream (stderr, stdout) that redacts each line before passing it on.

    Whole lines are redacted so a secret split across two ``write`` calls is still caught; the
    rest is held until its newline, a flush, or close.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            done, _, self._pending = self._pending.rpartition("\n")
            self._inner.write(redact(done + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(redact(self._pending))
            self._pending = ""
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...: the real stream's
        return getattr(self._inner, name)
