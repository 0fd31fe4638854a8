"""The streaming GGUF header reader agrees with the gguf library on the shipped models, and refuses damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.local_models import resolve_model_file
from harness.catalog import default_catalog
from harness.ggufheader import GgufHeaderError, read_header, read_scalars


def _file(name: str) -> Path:
    spec = default_catalog().get(name)
    assert spec is not None
    return resolve_model_file(spec.params["model_package"], spec.params["model_file"])


@pytest.mark.parametrize("model", ["nano", "mini"])
def test_fields_match_the_gguf_library(model: str) -> None:
    from gguf import GGUFReader

    path = _file(model)
    reader = GGUFReader(str(path))
    arch = str(reader.fields["general.architecture"].contents())
    keys = {"general.file_type", "general.architecture", f"{arch}.context_length", f"{arch}.block_count"}
    ours = read_scalars(path, keys | {"no.such.key"})
    assert set(ours) == keys  # every key found, the missing one absent (the whole header was walked)
    for key in keys:
        assert ours[key] == reader.fields[key].contents(), key
    header = read_header(path)  # the whole header: every scalar field and the tensor table
    assert {k: header.fields[k] for k in keys} == ours
    assert header.tensor_elements == {t.name: int(t.n_elements) for t in reader.tensors}
    assert header.tensor_bytes == sum(int(t.n_bytes) for t in reader.tensors)


def test_damaged_headers_are_refused(tmp_path: Path) -> None:
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"GGML" + bytes(40))
    with pytest.raises(GgufHeaderError, match="not a GGUF file"):
        read_scalars(not_gguf, {"general.file_type"})
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(_file("nano").read_bytes()[:200])
    with pytest.raises(GgufHeaderError, match="cut short"):
        read_scalars(cut, {"general.file_type", "no.such.key"})
    no_last_byte = tmp_path / "no-last-byte.gguf"
    no_last_byte.write_bytes(_file("nano").read_bytes()[:-1])  # a whole header, the weights one byte short
    assert read_scalars(no_last_byte, {"general.file_type"})
    with pytest.raises(GgufHeaderError, match="tensor data cut short"):
        read_header(no_last_byte)
