"""Accuracy measures: order-independent word F1 and character error rate (CER)."""

from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np


def normalize(text: str) -> str:
    """NFKC, every run of whitespace (newlines included) collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def word_f1(found: str, truth: str) -> float:
    """Bag-of-words F1 of `found` against `truth`, lower-cased, order ignored.

    1.0 when both are empty; 0.0 when only one is.
    """
    got, want = Counter(normalize(found).lower().split()), Counter(normalize(truth).lower().split())
    total = sum(got.values()) + sum(want.values())
    if total == 0:
        return 1.0
    return 2 * sum((got & want).values()) / total


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions all cost 1), one numpy row at a time."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    codes_b = np.array([ord(c) for c in b], dtype=np.int64)
    steps = np.arange(len(b) + 1, dtype=np.int64)
    row = steps.copy()
    for i, char in enumerate(a, start=1):
        # Substitution or match from the diagonal, deletion from above; then insertions along
        # the row: new[j] = min over k <= j of (cand[k] + j - k), a running minimum.
        cand = np.empty_like(row)
        cand[0] = i
        cand[1:] = np.minimum(row[:-1] + (codes_b != ord(char)), row[1:] + 1)
        row = np.minimum.accumulate(cand - steps) + steps
    return int(row[-1])


def cer(found: str, truth: str) -> float:
    """Edit distance between the normalized texts over the ground truth's length (case kept)."""
    got, want = normalize(found), normalize(truth)
    if not want:
        return 0.0 if not got else 1.0
    return levenshtein(got, want) / len(want)
