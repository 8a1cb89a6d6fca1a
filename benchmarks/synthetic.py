"""Synthetic memories and questions for latency benchmarks: short sentences like the facts
an assistant keeps, each one distinct (a numbered note), so no two queries hit a cache."""

from __future__ import annotations

import random

NAMES = ["Alice", "Bob", "Carla", "Dmitri", "Emeka", "Fatima", "Goro", "Hana", "Ivan", "Jun"]
VERBS = ["likes", "avoids", "collects", "talks about", "dreams of", "bought", "lost", "fixed"]
THINGS = [
    "old bicycles",
    "green tea",
    "jazz records",
    "mountain hikes",
    "spicy food",
    "board games",
    "vintage cameras",
    "sourdough bread",
    "marathon training",
    "chess openings",
    "sea kayaks",
    "watercolour paints",
    "science fiction novels",
    "house plants",
    "electric guitars",
]
PLACES = ["Berlin", "Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Austin", "Hanoi", "Porto"]
WHEN = ["last spring", "every weekend", "since childhood", "this year", "on holidays"]


def sentence(rng: random.Random, index: int) -> str:
    return (
        f"{rng.choice(NAMES)} {rng.choice(VERBS)} {rng.choice(THINGS)} in "
        f"{rng.choice(PLACES)} {rng.choice(WHEN)} (note {index})"
    )


def question(rng: random.Random, index: int) -> str:
    return f"What does {rng.choice(NAMES)} think about {rng.choice(THINGS)}? ({index})"
