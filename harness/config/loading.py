"""Read YAML files into typed models, with errors that name the file, field and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {
        key_node.value: key_node.start_mark.line + 1
        for key_node, _ in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    return _LineDict(mapping, lines)


class _LineDict(dict[Any, Any]):
    """A dict that also knows the source line of each key."""

    def __init__(self, data: dict[Any, Any], lines: dict[Any, int]) -> None:
        super().__init__(data)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely; a syntax or encoding error becomes a one-line ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:  # e.g. a control character: PyYAML's text spans lines
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    return data


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """Find the source line of the deepest key in ``loc`` that the YAML had."""
    line: int | None = None
    node = data
    for part in loc:
        if isinstance(node, _LineDict) and part in node.lines:
            line = node.lines[part]
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):  # noqa: SIM114
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
    return line


def format_validation_error(source: str, exc: ValidationError, data: Any = None) -> str:
    """Turn pydantic's multi-line error into one line: file, line, field and reason."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    line = line_of(data, loc) if data is not None else None
    where = f"{source}:{line}" if line else source
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: field '{field}': {message}{suffix}"


def validate(model: type[ModelT], data: Any, source: str) -> ModelT:
    """Validate parsed data into ``model``; raise a one-line ConfigError naming the field."""
    if data is None:
        raise ConfigError(f"{source}: file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, data)) from None


def load_yaml_model(model: type[ModelT], path: Path) -> ModelT:
    """Read and validate one YAML file."""
    return validate(model, read_yaml(path), str(path))
