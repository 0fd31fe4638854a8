"""Read YAML files into typed models, with errors that name the file, field and line.

The loader is safe and bounded: an alias bomb, deep nesting, a duplicate key or a ``.nan`` is refused with
its line instead of exhausting memory, overflowing the stack or being accepted silently.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from harness.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_ALIASES = 100  # anchors are for reuse of a few blocks; a bomb needs many
MAX_NODES = 200_000  # nodes after expanding every alias: far above any real config
MAX_DEPTH = 64
MAX_CONFIG_BYTES = 16 * 2**20  # a YAML config file; data files (JSONL items) have no cap
_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictModel(BaseModel):
    """A config model: an unknown field (a typo) or a non-finite number is an error, never silently kept."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Refused(yaml.MarkedYAMLError):
    """A document this loader will not build (too many aliases, too deep, duplicate key...)."""


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and bounds what it builds."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    problem=f"more than {MAX_ALIASES} aliases (*name); write the values out", problem_mark=mark
                )
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise _Refused(problem="an alias refers to a block that contains it", problem_mark=mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        if size > MAX_NODES:
            raise _Refused(problem=f"expands to more than {MAX_NODES} values (alias bomb?)", problem_mark=mark)
        self._sizes[id(node)] = size
        return node

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Refused(
                problem=f"non-finite number '{node.value}' (write a finite number)", problem_mark=node.start_mark
            )
        return value


_LineLoader.add_constructor("tag:yaml.org,2002:float", _LineLoader.construct_yaml_float)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            raise _Refused(
                problem=f"duplicate key '{key}' (each key may appear once)", problem_mark=key_node.start_mark
            )
        seen.add(key)
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return _LineDict(loader.construct_mapping(node, deep=True), lines)


class _LineDict(dict[Any, Any]):
    """A dict that also knows the source line of each key."""

    def __init__(self, data: Any = (), lines: dict[Any, int] | None = None) -> None:
        super().__init__(data)  # defaults: copy.deepcopy and libraries rebuild it as type(d)()
        self.lines = lines or {}


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def check_regular_file(path: Path, what: str = "file", prefix: str = "", max_bytes: int | None = None) -> None:
    """Refuse a missing file, a directory, a FIFO or a device before opening it (opening a FIFO blocks)."""
    label = f"{prefix}{path}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{label}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{label}: is a directory, expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{label}: not a regular file (a pipe or device?); give a {what}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise ConfigError(f"{label}: {info.st_size} bytes is too large for a {what} (limit {max_bytes})")


def read_text_file(path: Path, what: str = "file", max_bytes: int | None = None) -> str:
    """A regular UTF-8 file's text; every failure is a one-line ConfigError naming the file."""
    check_regular_file(path, what, max_bytes=max_bytes)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the bounded safe loader; any problem is a one-line ConfigError."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        kind = "refused YAML" if isinstance(exc, _Refused) else "invalid YAML"
        raise ConfigError(f"{source}:{where}: {kind}: {exc.problem}") from None
    except yaml.YAMLError as exc:  # e.g. a control character: PyYAML's text spans lines
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:  # a guard above should have caught it; never a traceback
        raise ConfigError(f"{source}: refused YAML: nested too deeply") from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely; a syntax, encoding or file-kind error becomes a one-line ConfigError."""
    return parse_yaml(read_text_file(path, "YAML file", max_bytes=MAX_CONFIG_BYTES), str(path))


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """Find the source line of the deepest key in ``loc`` that the YAML had."""
    line: int | None = None
    node = data
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if isinstance(node, _LineDict) and part in node.lines:
            line = node.lines[part]
        elif not (in_list or (isinstance(node, dict) and part in node)):
            break
        node = node[part]
    return line


def located(source: str, data: Any, loc: tuple[int | str, ...]) -> str:
    """``file:line`` of the field at ``loc`` in parsed YAML/JSON ``data`` (just ``file`` when its line is unknown)."""
    line = line_of(data, loc) if data is not None else None
    return f"{source}:{line}" if line else source


def format_validation_error(source: str, exc: ValidationError, data: Any = None, subject: str = "") -> str:
    """Turn pydantic's multi-line error into one line: file, line, ``subject`` (what holds the field), field, reason."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    where = located(source, data, loc)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {subject}field '{field}': {message}{suffix}"


BASE_DIR = "base_dir"  # validation context key: the folder of the file being validated


def base_dir(info: ValidationInfo) -> Path | None:
    """The folder of the file being validated, where it has one (see ``validate``)."""
    context = info.context
    found = context.get(BASE_DIR) if isinstance(context, dict) else None
    return found if isinstance(found, Path) else None


def validate(model: type[ModelT], data: Any, source: str, base_dir: Path | None = None) -> ModelT:
    """Validate parsed data into ``model``; raise a one-line ConfigError naming the field.
    ``base_dir`` (the file's folder) is where a relative path inside the file is looked for first."""
    if data is None:
        raise ConfigError(f"{source}: file is empty")
    try:
        return model.model_validate(data, context={BASE_DIR: base_dir} if base_dir else None)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, data)) from None


def load_yaml_model(model: type[ModelT], path: Path) -> ModelT:
    """Read and validate one YAML file."""
    return validate(model, read_yaml(path), str(path), path.parent)


def first_duplicate(names: list[str]) -> str | None:
    """The first name to appear a second time, or None when each appears once."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None
