"""Benchmark documents from a local data directory (../shared/benchmarks/README.md) or the Hugging Face Hub.

Both give one schema per benchmark (the fields lm-eval's prompts use after its ``process_docs``), so the same
task YAML runs on either source; hub data comes from the dataset, configuration and split lm-eval's task reads.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from functools import partial
from itertools import zip_longest
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.strictjson import jsonl_lines

Doc = dict[str, Any]


def _need(path: Path) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: benchmark data file not found (check --data-dir or TIERBENCH_DATA_DIR)")
    return path


def piqa_local(root: Path) -> list[Doc]:
    items = jsonl_lines(_need(root / "piqa" / "valid.jsonl").read_text(encoding="utf-8"))
    labels = _need(root / "piqa" / "valid-labels.lst").read_text(encoding="utf-8").split()
    docs = [json.loads(line) for line in items if line.strip()]
    if len(docs) != len(labels):
        raise UserError(f"{root / 'piqa'}: {len(docs)} items but {len(labels)} labels")
    return [
        {"goal": d["goal"], "sol1": d["sol1"], "sol2": d["sol2"], "label": int(y)}
        for d, y in zip(docs, labels, strict=True)
    ]


_ANSWER = re.compile(r"Answer(\d+): ")


def _arc_local(root: Path, folder: str) -> list[Doc]:
    docs = []
    for item in json.loads(_need(root / folder / "test.json").read_text(encoding="utf-8")):
        body = item["instruction"].split("\n\nAnswer format:")[0]
        question, _, options = body.partition("\n\n")
        question = question.removeprefix("Please choose the correct answer to the question: ")
        parts = _ANSWER.split(options)[1:]
        texts = [text.strip() for text in parts[1::2]]
        labels = [chr(ord("A") + i) for i in range(len(texts))]
        gold = int(item["answer"].removeprefix("answer")) - 1
        docs.append(
            {"question": question.strip(), "choices": {"text": texts, "label": labels}, "answerKey": labels[gold]}
        )
    return docs


def _clean(text: str) -> str:
    """HellaSwag's WikiHow artefacts: bracketed tags and the doubled spaces they leave."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def _hellaswag_doc(query: str, choices: list[str], label: Any) -> Doc:
    return {"query": _clean(query), "choices": [_clean(c) for c in choices], "label": int(label)}


def hellaswag_local(root: Path) -> list[Doc]:
    lines = _need(root / "hellaswag" / "hellaswag_val_full.txt").read_text(encoding="utf-8").split("\n")
    return [_hellaswag_doc(lines[at], lines[at + 2 : at + 6], lines[at + 1]) for at in range(0, len(lines) - 5, 6)]


def hellaswag_hub() -> list[Doc]:
    return [
        _hellaswag_doc(
            d["activity_label"] + ": " + d["ctx_a"] + " " + d["ctx_b"].capitalize(), d["endings"], d["label"]
        )
        for d in _hub("Rowan/hellaswag", None, "validation")
    ]


def _winogrande_doc(sentence: str, option1: str, option2: str, answer: int) -> Doc:
    """lm-eval's partial scoring: the choices are the contexts, the shared rest is the target."""
    blank = sentence.index("_")
    return {
        "sentence": sentence,
        "contexts": [sentence[:blank] + option1, sentence[:blank] + option2],
        "continuation": sentence[blank + 1 :].strip(),
        "gold": answer,
    }


_OPTIONS = re.compile(
    r"fill in the blank to complete the given sentence: (.*)\n\nOption1: (.*) Option2: (.*) Answer format", re.S
)


def winogrande_local(root: Path) -> list[Doc]:
    docs = []
    for item in json.loads(_need(root / "winogrande" / "test.json").read_text(encoding="utf-8")):
        match = _OPTIONS.search(item["instruction"])
        if match is None:
            raise UserError(
                f"{root / 'winogrande' / 'test.json'}: unexpected item layout: {item['instruction'][:60]!r}"
            )
        sentence, option1, option2 = (g.strip() for g in match.groups())
        docs.append(_winogrande_doc(sentence, option1, option2, int(item["answer"].removeprefix("option")) - 1))
    return docs


def winogrande_hub() -> list[Doc]:
    return [
        _winogrande_doc(d["sentence"], d["option1"], d["option2"], int(d["answer"]) - 1)
        for d in _hub("allenai/winogrande", "winogrande_xl", "validation")
    ]


def _interleave(by_subject: dict[str, list[Doc]]) -> list[Doc]:
    """Round-robin over subjects, so that --limit N samples every subject, not the first one."""
    rounds = zip_longest(*(docs for _, docs in sorted(by_subject.items())))
    return [doc for batch in rounds for doc in batch if doc is not None]


def _mmlu_doc(question: str, choices: list[str], answer: Any, subject: str) -> Doc:
    return {"question": question, "choices": choices, "answer": int(answer), "subject": subject.replace("_", " ")}


def mmlu_local(root: Path) -> list[Doc]:
    folder = root / "mmlu" / "test"
    files = sorted(folder.glob("*_test.csv"))
    if not files:
        raise UserError(f"{folder}: no *_test.csv files (check --data-dir or TIERBENCH_DATA_DIR)")
    by_subject: dict[str, list[Doc]] = {}
    for path in files:
        subject = path.name.removesuffix("_test.csv")
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        by_subject[subject] = [
            _mmlu_doc(r["question"], [r[f"choice{i}"] for i in range(4)], r["answer"], subject) for r in rows
        ]
    return _interleave(by_subject)


def mmlu_hub() -> list[Doc]:
    by_subject: dict[str, list[Doc]] = {}
    for d in _hub("cais/mmlu", "all", "test"):
        by_subject.setdefault(d["subject"], []).append(
            _mmlu_doc(d["question"], list(d["choices"]), d["answer"], d["subject"])
        )
    return _interleave(by_subject)


def gsm8k_local(root: Path) -> list[Doc]:
    lines = jsonl_lines(_need(root / "gsm8k" / "test.jsonl").read_text(encoding="utf-8"))
    return [{"question": d["question"], "answer": d["answer"]} for d in map(json.loads, filter(str.strip, lines))]


def gsm8k_hub() -> list[Doc]:
    return [{"question": d["question"], "answer": d["answer"]} for d in _hub("openai/gsm8k", "main", "test")]


def _answers(items: list[str], add_no_comment: bool) -> list[str]:
    """Each answer ends with a period; "I have no comment." counts as true (lm-eval's rule)."""
    out = [a.strip() if a.strip().endswith(".") else a.strip() + "." for a in items if a.strip()]
    if add_no_comment and "I have no comment." not in out:
        out.append("I have no comment.")
    return out


def _truthfulqa_doc(question: str, correct: list[str], incorrect: list[str]) -> Doc:
    return {
        "question": question.strip(),
        "correct_answers": _answers(correct, True),
        "incorrect_answers": _answers(incorrect, False),
    }


def truthfulqa_local(root: Path) -> list[Doc]:
    path = _need(root / "truthfulqa" / "TruthfulQA.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        _truthfulqa_doc(r["Question"], r["Correct Answers"].split("; "), r["Incorrect Answers"].split("; "))
        for r in rows
    ]


def truthfulqa_hub() -> list[Doc]:
    return [
        _truthfulqa_doc(d["question"], d["correct_answers"], d["incorrect_answers"])
        for d in _hub("truthfulqa/truthful_qa", "generation", "validation")
    ]


def _hub(path: str, name: str | None, split: str) -> Any:
    import datasets

    try:
        return datasets.load_dataset(path, name, split=split)
    except Exception as exc:  # no network, no cache: say what to do instead
        raise UserError(
            f"could not load {path} ({name or 'default'}) from the Hugging Face Hub: {type(exc).__name__}; "
            "pass --data-dir (or set TIERBENCH_DATA_DIR) to a local benchmark directory"
        ) from None


def _hub_as_is(path: str, name: str | None, split: str) -> list[Doc]:
    """A hub dataset whose rows already have the fields the task prompts use."""
    return [dict(d) for d in _hub(path, name, split)]


LOADERS: dict[str, tuple[Callable[[Path], list[Doc]], Callable[[], list[Doc]]]] = {
    "piqa": (piqa_local, partial(_hub_as_is, "baber/piqa", None, "validation")),
    "arc_easy": (partial(_arc_local, folder="arc_easy"), partial(_hub_as_is, "allenai/ai2_arc", "ARC-Easy", "test")),
    "arc_challenge": (
        partial(_arc_local, folder="arc_challenge"),
        partial(_hub_as_is, "allenai/ai2_arc", "ARC-Challenge", "test"),
    ),
    "hellaswag": (hellaswag_local, hellaswag_hub),
    "winogrande": (winogrande_local, winogrande_hub),
    "mmlu": (mmlu_local, mmlu_hub),
    "gsm8k": (gsm8k_local, gsm8k_hub),
    "truthfulqa": (truthfulqa_local, truthfulqa_hub),
}


def load_benchmark(loader: str, data_dir: Path | None) -> list[Doc]:
    """Documents of one benchmark: from ``data_dir`` when given, else from the Hub."""
    local, hub = LOADERS[loader]
    return local(data_dir) if data_dir is not None else hub()
