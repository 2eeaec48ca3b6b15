"""The bench's tables and its PASS/FAIL lines (issue 14's targets)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.real import F1_MARGIN, KINDS

SPEED_TARGET, SPEED_GOAL = 1.0, 0.8  # our warm seconds over Tesseract's, on the real set


@dataclass(frozen=True)
class Score:
    """One engine on one page: word F1, ordered CER, order-free CER, warm seconds."""

    f1: float
    cer: float
    bag_cer: float
    seconds: float


@dataclass(frozen=True)
class PageResult:
    name: str
    family: str
    chars: int
    real: bool
    ours: Score
    tesseract: Score | None


@dataclass(frozen=True)
class Summary:
    """An engine over some pages: mean word F1, CERs pooled over characters, total seconds."""

    f1: float
    cer: float
    bag_cer: float
    seconds: float


def summary(rows: list[PageResult], engine: str) -> Summary | None:
    scores = [getattr(r, engine) for r in rows]
    if not rows or any(s is None for s in scores):
        return None
    chars = sum(r.chars for r in rows) or 1
    return Summary(
        statistics.fmean(s.f1 for s in scores),
        sum(s.cer * r.chars for s, r in zip(scores, rows, strict=True)) / chars,
        sum(s.bag_cer * r.chars for s, r in zip(scores, rows, strict=True)) / chars,
        sum(s.seconds for s in scores),
    )


def groups(results: list[PageResult]) -> list[tuple[str, list[PageResult]]]:
    """Each family, then the generated pages, the real pages and all of them."""
    out = [
        (f, [r for r in results if r.family == f]) for f in dict.fromkeys(r.family for r in results)
    ]
    generated, real = [r for r in results if not r.real], [r for r in results if r.real]
    out += [(name, rows) for name, rows in (("generated", generated), ("real", real)) if rows]
    return [*out, ("overall", results)] if generated and real else out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}" if b > 0 else "     -"


def table(results: list[PageResult]) -> str:
    """One row per family and group: ours against Tesseract, warm seconds in total."""
    head = (
        f"{'family':<10}{'pages':>5} | {'F1 ours':>7} {'tess':>6} {'diff':>6} | "
        f"{'CER ours':>8} {'tess':>6} | {'oCER ours':>9} {'tess':>6} | "
        f"{'s ours':>7} {'tess':>7} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for name, rows in groups(results):
        ours, tess = summary(rows, "ours"), summary(rows, "tesseract")
        if ours is None:
            continue
        if tess is None:
            tess = Summary(float("nan"), float("nan"), float("nan"), 0.0)
        lines.append(
            f"{name:<10}{len(rows):>5} | {ours.f1:7.3f} {tess.f1:6.3f} {ours.f1 - tess.f1:+6.3f}"
            f" | {ours.cer:8.3f} {tess.cer:6.3f} | {ours.bag_cer:9.3f} {tess.bag_cer:6.3f} | "
            f"{ours.seconds:7.1f} {tess.seconds:7.1f} {_ratio(ours.seconds, tess.seconds)}"
        )
    return "\n".join(lines)


def per_file(results: list[PageResult], ours_start: float, tess_start: float) -> str:
    """Each group's seconds when every file is a new process (start-up added per page)."""
    lines = []
    for name, rows in groups(results):
        if name not in ("generated", "real") or summary(rows, "tesseract") is None:
            continue
        ours = sum(r.ours.seconds + ours_start for r in rows)
        tess = sum(r.tesseract.seconds + tess_start for r in rows if r.tesseract)
        lines.append(
            f"per file, {name:<9} {len(rows):>3} pages: ours {ours:7.1f} s, tesseract "
            f"{tess:7.1f} s, ratio {_ratio(ours, tess).strip()}"
        )
    return "\n".join(lines)


def targets(results: list[PageResult]) -> list[str]:
    """PASS/FAIL for issue 14: on the real set, F1 margins and CERs per kind and total warm
    seconds; on generated pages, word F1 at least Tesseract's on every family."""
    out: list[str] = []
    real = [r for r in results if r.real]
    for kind in dict.fromkeys(r.family for r in real):
        rows = [r for r in real if r.family == kind]
        ours, tess = summary(rows, "ours"), summary(rows, "tesseract")
        if ours is None or tess is None:
            continue
        margin = F1_MARGIN.get(kind, 0.0)
        out.append(
            f"{_verdict(ours.f1 >= tess.f1 + margin)} {kind}: word F1 {ours.f1:.3f} >= "
            f"Tesseract {tess.f1:.3f} + {margin:.2f}"
        )
        out.append(
            f"{_verdict(ours.cer <= tess.cer and ours.bag_cer <= tess.bag_cer)} {kind}: CER "
            f"{ours.cer:.3f} <= {tess.cer:.3f}, order-free {ours.bag_cer:.3f} <= {tess.bag_cer:.3f}"
        )
    ours, tess = summary(real, "ours"), summary(real, "tesseract")
    if ours and tess and tess.seconds:
        ratio = ours.seconds / tess.seconds
        goal = "goal met" if ratio <= SPEED_GOAL else f"goal {SPEED_GOAL} not met"
        out.append(
            f"{_verdict(ratio <= SPEED_TARGET)} real set, warm against warm: {ours.seconds:.1f} "
            f"vs {tess.seconds:.1f} s (x{ratio:.2f}; {goal})"
        )
    out += _generated_target([r for r in results if not r.real])
    return out or ["(no targets: Tesseract did not run)"]


def _generated_target(rows: list[PageResult]) -> list[str]:
    behind = []
    for family in dict.fromkeys(r.family for r in rows):
        ours = summary([r for r in rows if r.family == family], "ours")
        tess = summary([r for r in rows if r.family == family], "tesseract")
        if ours and tess and ours.f1 < tess.f1:
            behind.append(f"{family} {ours.f1:.3f}<{tess.f1:.3f}")
    if not rows or summary(rows, "tesseract") is None:
        return []
    return [
        f"{_verdict(not behind)} generated pages: word F1 >= Tesseract on every family"
        + (f"; behind on: {', '.join(behind)}" if behind else "")
    ]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def is_kind(family: str) -> bool:
    return family in KINDS.values() or family == "real"
