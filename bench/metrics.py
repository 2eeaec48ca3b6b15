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


def bag_cer(found: str, truth: str) -> float:
    """Order-free CER: the words of both texts matched regardless of where they stand, then
    the character edits the matching leaves, over the ground truth's characters (spaces not
    counted). Same words cost nothing; each word left over is paired with the left-over word
    of the other side it is closest to (greedily, closest pairs first) when that costs less
    than deleting and inserting both; the rest are deleted or inserted whole. Two-column
    pages and forms read in another order than their ground truth's are not penalised for it.
    """
    got, want = Counter(normalize(found).split()), Counter(normalize(truth).split())
    total = sum(len(w) * n for w, n in want.items())
    if not total:
        return 0.0 if not got else 1.0
    extra, missing = list((got - want).elements()), list((want - got).elements())
    by_length: dict[int, list[int]] = {}
    for j, word in enumerate(extra):
        by_length.setdefault(len(word), []).append(j)
    pairs = []
    for i, a in enumerate(missing):
        reach = max(2, len(a) // 2)  # words further apart in length cost more than they save
        for size in range(max(1, len(a) - reach), len(a) + reach + 1):
            pairs += [(_distance(a, extra[j]), i, j) for j in by_length.get(size, ())]
    used_a, used_b, edits = set(), set(), 0
    for cost, i, j in sorted(pairs):
        if i in used_a or j in used_b or cost >= len(missing[i]) + len(extra[j]):
            continue
        used_a.add(i)
        used_b.add(j)
        edits += cost
    edits += sum(len(w) for i, w in enumerate(missing) if i not in used_a)
    edits += sum(len(w) for j, w in enumerate(extra) if j not in used_b)
    return edits / total


def _distance(a: str, b: str) -> int:
    """Edit distance of two short strings (a plain loop: faster than numpy for words)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]
