"""`--rule-sweep`: each correction rule switched off in turn against all of them on, our engine
alone on the real scans, so a rule keeps its place only where it wins on the set as a whole.
`--weight-sweep`: our engine alone with each weight set, its accuracy against its time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.engines import EngineRun, Scan, Worker
from bench.report import PageResult, Summary, summary
from engine.rules import NAMES

Scorer = Callable[[Scan, EngineRun, EngineRun], PageResult]


def rule_sweep(scans: list[Scan], work: Path, env: dict[str, str], score: Scorer) -> str:
    """A table: per rule, word F1 and CERs with it off less with all rules on (negative F1,
    positive CER: the rule helps), the pages whose text changed, and a verdict."""
    skipped = EngineRun("tesseract", note="not run in a rule sweep")
    already = [n for n in env.get("BENCH_RULES_OFF", "").split(",") if n]
    base_run = _read_all(scans, work, env)
    base = [score(s, base_run, skipped) for s in scans]
    kinds = list(dict.fromkeys(s.family for s in scans))
    head = f"{'rule off':<13}" + "".join(f"{'dF1 ' + k:>14}" for k in kinds)
    lines = [head + f"{'dF1 all':>9}{'dCER':>8}{'doCER':>8}{'pages':>6}  verdict", ""]
    for name in NAMES:
        if name in already:
            continue
        run = _read_all(scans, work, env | {"BENCH_RULES_OFF": ",".join([*already, name])})
        off = [score(s, run, skipped) for s in scans]
        changed = sum(run.texts[s.name] != base_run.texts[s.name] for s in scans)
        cells = [_delta(off, base, k) for k in kinds]
        whole_off, whole_on = _of(off), _of(base)
        lines.append(
            f"{name:<13}"
            + "".join(f"{c:>+14.4f}" for c in cells)
            + f"{whole_off.f1 - whole_on.f1:>+9.4f}{whole_off.cer - whole_on.cer:>+8.4f}"
            f"{whole_off.bag_cer - whole_on.bag_cer:>+8.4f}{changed:>6}  "
            + _verdict(whole_on, whole_off, changed)
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def weight_sweep(
    scans: list[Scan], work: Path, env: dict[str, str], score: Scorer, names: list[str]
) -> str:
    """A table: per weight set, word F1 per kind and over all pages, CER, warm seconds for the
    pages and their ratio to the first set's."""
    skipped = EngineRun("tesseract", note="not run in a weight sweep")
    kinds = list(dict.fromkeys(s.family for s in scans))
    head = f"{'weights':<10}" + "".join(f"{'F1 ' + k:>14}" for k in kinds)
    lines = [head + f"{'F1 all':>8}{'CER':>7}{'seconds':>9}{'ratio':>7}", ""]
    first = 0.0
    for name in names:
        run = _read_all(scans, work, env | {"TOOL_OCR_OCR_WEIGHTS": name})
        rows = [score(s, run, skipped) for s in scans]
        whole = _of(rows)
        first = first or whole.seconds
        lines.append(
            f"{name:<10}"
            + "".join(f"{_of([r for r in rows if r.family == k]).f1:>14.3f}" for k in kinds)
            + f"{whole.f1:>8.3f}{whole.cer:>7.3f}{whole.seconds:>9.1f}{whole.seconds / first:>7.2f}"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _read_all(scans: list[Scan], work: Path, env: dict[str, str]) -> EngineRun:
    worker = Worker("bench.worker", work, env)
    for scan in scans:
        worker.read(scan)
    return worker.close()


def _of(rows: list[PageResult]) -> Summary:
    found = summary(rows, "ours")
    assert found is not None
    return found


def _delta(off: list[PageResult], on: list[PageResult], kind: str) -> float:
    return (
        _of([r for r in off if r.family == kind]).f1 - _of([r for r in on if r.family == kind]).f1
    )


def _verdict(on: Summary, off: Summary, changed: int) -> str:
    if not changed:
        return "no effect"
    if on.f1 > off.f1 and on.cer <= off.cer:
        return "wins (keep)"
    if on.f1 < off.f1 and on.cer >= off.cer:
        return "loses (remove)"
    return "mixed"
