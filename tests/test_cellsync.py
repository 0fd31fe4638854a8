"""Mirroring a remote cell's directory: only whole new lines travel, rewrites travel whole."""

from __future__ import annotations

import json
from pathlib import Path

from harness.results.files import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl
from harness.runner import cellsync


def test_tail_and_apply_mirror_a_cell_dir_like_a_local_worker(tmp_path: Path) -> None:
    home, remote = tmp_path / "home", tmp_path / "remote"
    append_jsonl(home / "requests.jsonl", {"index": 0})
    atomic_write_json(home / "spec.json", {"run_dir": "home"})
    start = cellsync.snapshot(home)
    assert set(start) == {"requests.jsonl"}  # the spec is each side's own
    cellsync.restore(remote, start)
    tail = cellsync.CellTail(remote)
    tail.mark()
    assert tail.poll() == []  # what the driver already holds does not travel back

    append_jsonl(remote / "requests.jsonl", {"index": 1})
    with (remote / "requests.jsonl").open("ab") as handle:
        handle.write(b'{"index": 2')  # a line still being written waits for its newline
    append_jsonl(remote / "samples.jsonl", {"task": "a", "doc_id": 0})
    cellsync.apply(home, tail.poll())
    assert [r["index"] for r in read_jsonl(home / "requests.jsonl")] == [0, 1]

    with (remote / "requests.jsonl").open("ab") as handle:
        handle.write(b"}\n")
    atomic_write_bytes(remote / "samples.jsonl", b"")  # a resumed worker drops an unfinished task's records
    append_jsonl(remote / "samples.jsonl", {"task": "b", "doc_id": 0})
    atomic_write_json(remote / "status.json", {"status": "ok"})
    cellsync.apply(home, tail.poll())
    assert [r["index"] for r in read_jsonl(home / "requests.jsonl")] == [0, 1, 2]
    assert read_jsonl(home / "samples.jsonl") == [{"task": "b", "doc_id": 0}]
    assert json.loads((home / "status.json").read_text()) == {"status": "ok"}
    assert json.loads((home / "spec.json").read_text()) == {"run_dir": "home"}
    assert tail.poll() == []
