"""``python -m harness.ladder.fidelity_worker REQUEST.json``: measure fidelity in a process of its own.

It loads the reference and every rung at once (their logits for the whole vocabulary are large),
so it runs apart from the tierbench process and from the cells, whose memory is what they measure.
The answer is written atomically next to the request as ``<request>.result.json``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from harness.results.files import atomic_write_json


def main(argv: list[str]) -> int:
    from harness.ladder.fidelity import measure

    request_path = Path(argv[1])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    result: dict[str, Any]
    threads = int(os.environ.get("TIERBENCH_THREADS", "0")) or os.cpu_count() or 1
    try:
        rows = measure(
            request["reference"],
            request["models"],
            Path(request["text_path"]).read_text(encoding="utf-8"),
            max_tokens=int(request["max_tokens"]),
            block_tokens=int(request["block_tokens"]),
            unit_tokens=int(request["unit_tokens"]),
            threads=threads,
            seed=int(request.get("seed", 0)),
        )
        result = {"rows": rows}
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    atomic_write_json(request_path.with_suffix(".result.json"), result)
    return 0 if "rows" in result else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
