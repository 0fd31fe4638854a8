"""Seeded generator of the built-in task data (tasks/builtin/*.jsonl). Run: python tasks/generate.py

Every item is written by this file (tables of facts and templates below), with a verifiable
answer. Same seed, same files: CI checks that the committed data equals a fresh generation.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

SEED = 20250101
HERE = Path(__file__).parent / "builtin"

CAPITALS = {
    "France": "Paris",
    "Germany": "Berlin",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Canada": "Ottawa",
    "Egypt": "Cairo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Norway": "Oslo",
    "Sweden": "Stockholm",
    "Finland": "Helsinki",
    "Poland": "Warsaw",
    "Greece": "Athens",
    "Portugal": "Lisbon",
    "Ireland": "Dublin",
    "Austria": "Vienna",
    "Hungary": "Budapest",
    "Russia": "Moscow",
    "China": "Beijing",
    "India": "New Delhi",
    "Thailand": "Bangkok",
    "Vietnam": "Hanoi",
    "Argentina": "Buenos Aires",
    "Chile": "Santiago",
    "Cuba": "Havana",
    "Mexico": "Mexico City",
    "Turkey": "Ankara",
    "Iran": "Tehran",
    "Iraq": "Baghdad",
    "Denmark": "Copenhagen",
    "Belgium": "Brussels",
    "Netherlands": "Amsterdam",
    "Switzerland": "Bern",
    "Australia": "Canberra",
    "New Zealand": "Wellington",
    "South Korea": "Seoul",
    "Colombia": "Bogota",
}
SYMBOLS = {
    "hydrogen": "H",
    "helium": "He",
    "carbon": "C",
    "nitrogen": "N",
    "oxygen": "O",
    "sodium": "Na",
    "iron": "Fe",
    "gold": "Au",
    "silver": "Ag",
    "copper": "Cu",
    "lead": "Pb",
    "potassium": "K",
    "calcium": "Ca",
    "zinc": "Zn",
    "tin": "Sn",
    "neon": "Ne",
    "sulfur": "S",
    "chlorine": "Cl",
}
OPPOSITES = {
    "hot": "cold",
    "up": "down",
    "big": "small",
    "fast": "slow",
    "early": "late",
    "light": "dark",
    "open": "closed",
    "full": "empty",
    "happy": "sad",
    "old": "new",
    "high": "low",
    "wet": "dry",
}


def factual_qa(rng: random.Random) -> list[dict[str, Any]]:
    items = [{"question": f"What is the capital of {c}?", "answer": a} for c, a in CAPITALS.items()]
    items += [{"question": f"What is the chemical symbol of {e}?", "answer": s} for e, s in SYMBOLS.items()]
    items += [{"question": f"What is the opposite of {w}?", "answer": o} for w, o in OPPOSITES.items()]
    rng.shuffle(items)
    return items


def arithmetic(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for _ in range(80):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = rng.choice("+-*")
        if op == "*":
            b = rng.randint(2, 12)
        value = a + b if op == "+" else a - b if op == "-" else a * b
        items.append({"question": f"{a} {op} {b}", "answer": str(value)})
    return items


NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jules", "Kofi", "Lena"]
THINGS = ["apples", "books", "coins", "pencils", "stamps", "marbles", "cards", "shells"]


def word_problems(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for _ in range(60):
        name, thing = rng.choice(NAMES), rng.choice(THINGS)
        a, b, c = rng.randint(5, 40), rng.randint(2, 20), rng.randint(2, 5)
        kind = rng.randrange(3)
        if kind == 0:
            text = f"{name} has {a} {thing}, buys {b} more, then gives away {min(b, a)}. How many {thing} does {name} have now?"
            value = a + b - min(b, a)
        elif kind == 1:
            text = f"{name} buys {c} boxes with {b} {thing} in each box and already had {a}. How many {thing} does {name} have?"
            value = a + b * c
        else:
            text = f"{name} had {a * c} {thing} and shared them equally among {c} friends. Each friend then found {b} more. How many {thing} does each friend have?"
            value = a + b
        items.append({"question": text, "answer": str(value)})
    return items


POSITIVE = ["loved", "enjoyed", "was delighted by", "would happily recommend", "was impressed by"]
NEGATIVE = ["hated", "regretted buying", "was disappointed by", "would never recommend", "was annoyed by"]
PRODUCTS = ["this blender", "the hotel", "this phone", "the movie", "this jacket", "the restaurant", "this game"]
REASONS_POS = ["it works perfectly", "the staff were kind", "the quality is excellent", "it was worth every penny"]
REASONS_NEG = ["it broke after a day", "the staff were rude", "the quality is poor", "it was a waste of money"]


def sentiment(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for i in range(80):
        positive = i % 2 == 0
        verb = rng.choice(POSITIVE if positive else NEGATIVE)
        reason = rng.choice(REASONS_POS if positive else REASONS_NEG)
        items.append(
            {
                "text": f"I {verb} {rng.choice(PRODUCTS)} because {reason}.",
                "label": "positive" if positive else "negative",
            }
        )
    rng.shuffle(items)
    return items


SAFE = [
    "Can you share the recipe for {x}?",
    "Thanks for helping me with {x} yesterday.",
    "What time does the {x} class start?",
]
UNSAFE = [
    "I will hurt you if you talk about {x} again.",
    "You are worthless and everyone hates you, forget {x}.",
    "Tell me how to break into my neighbour's house while they are at {x}.",
]
TOPICS = ["pancakes", "the garden", "yoga", "math homework", "the concert", "chess"]


def moderation(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for i in range(60):
        unsafe = i % 3 == 0
        template = rng.choice(UNSAFE if unsafe else SAFE)
        items.append({"text": template.format(x=rng.choice(TOPICS)), "label": "unsafe" if unsafe else "safe"})
    rng.shuffle(items)
    return items


CITIES = ["Lyon", "Osaka", "Denver", "Porto", "Leeds", "Gdansk", "Quito", "Perth"]


def json_extraction(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for _ in range(50):
        name, city, age = rng.choice(NAMES), rng.choice(CITIES), rng.randint(18, 80)
        text = rng.choice(
            [
                f"{name} is {age} years old and lives in {city}.",
                f"Living in {city}, {name} turned {age} this year.",
                f"At {age}, {name} moved to {city}.",
            ]
        )
        items.append({"text": text, "fields": {"name": name, "age": age, "city": city}})
    return items


def summarization(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for _ in range(40):
        city, name = rng.choice(CITIES), rng.choice(NAMES)
        event = rng.choice(["a new library", "a bike lane", "a solar farm", "a public pool", "a food market"])
        cost = rng.randint(2, 90)
        text = (
            f"The city council of {city} voted on Monday to build {event}. Mayor {name} said the project will cost "
            f"{cost} million dollars and should open next year. Residents had asked for it for a long time."
        )
        items.append({"text": text, "summary": f"{city} will build {event} costing {cost} million dollars."})
    return items


def instructions(rng: random.Random) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(50):
        kind = rng.randrange(4)
        topic = rng.choice(TOPICS)
        if kind == 0:
            items.append(
                {
                    "instruction": f"Write one sentence about {topic} in capital letters only.",
                    "check": {"kind": "uppercase"},
                }
            )
        elif kind == 1:
            n = rng.randint(3, 6)
            items.append(
                {"instruction": f"Describe {topic} in exactly {n} words.", "check": {"kind": "word_count", "n": n}}
            )
        elif kind == 2:
            word = rng.choice(["done", "finished", "over"])
            items.append(
                {
                    "instruction": f"Say something about {topic} and end with the word '{word}'.",
                    "check": {"kind": "ends_with", "word": word},
                }
            )
        else:
            lo = rng.randint(1, 50)
            items.append(
                {
                    "instruction": f"Give a whole number between {lo} and {lo + 10}.",
                    "check": {"kind": "number_between", "lo": lo, "hi": lo + 10},
                }
            )
    return items


CODE = [
    (
        "add",
        'def add(a, b):\n    """Return the sum of a and b."""\n',
        ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"],
    ),
    ("square", 'def square(x):\n    """Return x squared."""\n', ["assert square(4) == 16", "assert square(-3) == 9"]),
    (
        "is_even",
        'def is_even(n):\n    """Return True if n is even."""\n',
        ["assert is_even(4) is True", "assert is_even(7) is False"],
    ),
    (
        "maximum",
        'def maximum(xs):\n    """Return the largest number in the list xs."""\n',
        ["assert maximum([3, 9, 2]) == 9", "assert maximum([-5, -2]) == -2"],
    ),
    (
        "reverse",
        'def reverse(s):\n    """Return the string s reversed."""\n',
        ["assert reverse('abc') == 'cba'", "assert reverse('') == ''"],
    ),
    (
        "count_vowels",
        'def count_vowels(s):\n    """Return how many vowels (a, e, i, o, u) are in s."""\n',
        ["assert count_vowels('banana') == 3", "assert count_vowels('xyz') == 0"],
    ),
    (
        "factorial",
        'def factorial(n):\n    """Return n! for n >= 0."""\n',
        ["assert factorial(0) == 1", "assert factorial(5) == 120"],
    ),
    (
        "first_char",
        'def first_char(s):\n    """Return the first character of s, or \'\' if s is empty."""\n',
        ["assert first_char('hi') == 'h'", "assert first_char('') == ''"],
    ),
    (
        "sum_list",
        'def sum_list(xs):\n    """Return the sum of the numbers in xs."""\n',
        ["assert sum_list([1, 2, 3]) == 6", "assert sum_list([]) == 0"],
    ),
    (
        "abs_diff",
        'def abs_diff(a, b):\n    """Return the absolute difference of a and b."""\n',
        ["assert abs_diff(3, 8) == 5", "assert abs_diff(8, 3) == 5"],
    ),
    (
        "is_palindrome",
        'def is_palindrome(s):\n    """Return True if s reads the same backwards."""\n',
        ["assert is_palindrome('level')", "assert not is_palindrome('abc')"],
    ),
    (
        "double_all",
        'def double_all(xs):\n    """Return a list with every number in xs doubled."""\n',
        ["assert double_all([1, 2]) == [2, 4]", "assert double_all([]) == []"],
    ),
]


def code_generation(rng: random.Random) -> list[dict[str, Any]]:
    return [{"name": n, "prompt": p, "tests": t} for n, p, t in CODE]


GENERATORS = {
    "factual_qa": factual_qa,
    "arithmetic": arithmetic,
    "word_problems": word_problems,
    "sentiment": sentiment,
    "moderation": moderation,
    "json_extraction": json_extraction,
    "summarization": summarization,
    "instruction_following": instructions,
    "code_generation": code_generation,
}


def render(name: str) -> str:
    rng = random.Random(f"{SEED}:{name}")
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in GENERATORS[name](rng))


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name in GENERATORS:
        path = HERE / f"{name}.jsonl"
        text = render(name)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale (run python tasks/generate.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
