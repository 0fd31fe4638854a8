"""Judge a code task's ``assert`` lines outside the sandbox, so the code under test cannot forge them.

Only the *probes* (sub-expressions that call into the solution, e.g. ``add(2, 3)``) run in the sandbox;
their ``repr`` comes back as plain data (``ast.literal_eval``) and the check around them runs here. The
sandbox never sees an expected value, so overriding ``__eq__``, patching builtins or exiting early fails.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Any

_PURE: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in ("abs", "all", "any", "bool", "dict", "float", "frozenset", "int", "len", "list", "max", "min",
                 "round", "set", "sorted", "str", "sum", "tuple")
}  # fmt: skip


@dataclass(frozen=True)
class CodeCheck:
    """One test line: the probe expressions to run contained, and the check to judge here."""

    source: str
    probes: tuple[str, ...]
    check: ast.Expression


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class _Split(ast.NodeTransformer):
    """Replace every sub-expression that is not plain checking logic by a probe placeholder."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.probes: list[str] = []

    def _probe(self, node: ast.expr) -> ast.expr:
        name = f"_probe{self.first + len(self.probes)}"
        self.probes.append(ast.unparse(node))
        return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)

    def visit(self, node: ast.AST) -> Any:
        if not isinstance(node, ast.expr) or isinstance(node, ast.Constant) or _is_literal(node):
            return node
        if isinstance(node, ast.Compare | ast.BoolOp | ast.UnaryOp | ast.BinOp | ast.Subscript | ast.Slice):
            return self.generic_visit(node)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _PURE
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            node.args = [self.visit(a) for a in node.args]
            return node
        return self._probe(node)


def compile_test(source: str, first_probe: int = 0) -> CodeCheck:
    """Split one ``assert ...`` line; ValueError when it is not a single assert statement."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError as exc:
        raise ValueError(f"test is not valid Python: {source!r} ({exc.msg})") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise ValueError(f"a code test must be one assert statement: {source!r}")
    splitter = _Split(first_probe)
    expr = splitter.visit(tree.body[0].test)
    check = ast.fix_missing_locations(ast.Expression(body=expr))
    return CodeCheck(source, tuple(splitter.probes), check)


def _plain(text: str) -> Any:
    """A probe's repr read back as plain data; anything else (objects, nan, recursion) fails."""
    if len(text) > 100_000:
        raise ValueError("value too long")
    return ast.literal_eval(text)


def passes(check: CodeCheck, first_probe: int, values: dict[int, tuple[str, str]]) -> bool:
    """True when every probe of ``check`` returned plain data and the check holds on it."""
    scope: dict[str, Any] = {"__builtins__": dict(_PURE)}
    for offset in range(len(check.probes)):
        kind, text = values.get(first_probe + offset, ("error", "never finished"))
        if kind != "value":
            return False
        try:
            scope[f"_probe{first_probe + offset}"] = _plain(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    try:
        return bool(eval(compile(check.check, "<test>", "eval"), scope))  # plain data, pure builtins only
    except Exception:
        return False
