"""Make untrusted text (names, reasons, paths, model output) safe for one output format.

Each format has characters that turn data into structure: a line break starts a GitHub workflow command
(``::add-mask::``), ESC drives the terminal, ``[bold]`` is rich markup, XML 1.0 forbids most control
characters. Every writer of user or model text goes through here.
"""

from __future__ import annotations

import re

# C0 controls except tab, DEL, C1 controls, and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# What XML 1.0 does not allow at all (tab, LF and CR are allowed but escaped by _CONTROL first).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object) -> str:
    """``text`` on one line with every control character shown as an escape (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(_visible, str(text))


def terminal(text: object) -> str:
    """One line, with rich markup escaped: for a rich console that renders markup."""
    from rich.markup import escape  # imported here: a cell worker uses one_line and never rich

    return escape(one_line(text))


def xml_text(text: object, multiline: bool = False) -> str:
    """Text an XML 1.0 document may hold: control characters made visible, none dropped silently;
    ``multiline`` keeps line feeds (JUnit details)."""
    raw = str(text)
    out = "\n".join(one_line(line) for line in raw.split("\n")) if multiline else one_line(raw)
    return _NOT_XML.sub(_visible, out)
