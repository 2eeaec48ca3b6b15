"""`python -m bench.ocr`: our OCR engine against Tesseract on generated scan-like pages.

Prints word F1, CER, seconds per page, model load and peak RSS for both engines per page
family and overall, their ratios, and PASS/FAIL against issue 4's targets. A benchmark, not a
test: it always exits 0 once it has measured. `--soak N` checks memory over N pages instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageOps

from bench.engines import EngineRun, Scan, run_side_by_side, soak_ours
from bench.metrics import cer, normalize, word_f1
from bench.pages import A4_INCHES, FAMILIES, generate

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
REAL_DPI = 300.0  # the pipeline's TOOL_OCR_IMAGE_DPI default, for scans without dpi metadata
SOAK_FLAT, SOAK_LIMIT_MIB = 0.10, 1.5 * 1024


@dataclass(frozen=True)
class Score:
    """One engine on one page."""

    f1: float
    cer: float
    seconds: float


@dataclass(frozen=True)
class PageResult:
    name: str
    family: str
    chars: int
    a4: bool
    ours: Score
    tesseract: Score | None


def main(argv: list[str] | None = None) -> int:
    """Generate pages, run both engines (or the soak), print the tables."""
    args = _parser().parse_args(argv)
    with _workdir(args.out) as work:
        scans = generated_scans(args.families, args.pages, args.seed, work / "pages")
        if args.real:
            scans += real_scans(Path(args.real), work / "real")
        if args.soak:
            return soak(scans, work, args.soak)
        print(f"{len(scans)} pages, {_load()}", flush=True)
        ours, tess = run_side_by_side(scans, work)
        results = [score(scan, ours, tess) for scan in scans]
        print(report(results, ours, tess))
        if args.out:
            write_results(Path(args.out), results, ours, tess)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__)
    parser.add_argument(
        "--pages",
        type=int,
        default=3,
        help="pages per family (default 3: rotated gets 90, 180 and 270)",
    )
    parser.add_argument(
        "--families",
        type=lambda s: [f for f in s.split(",") if f],
        default=list(FAMILIES),
        help=f"comma-separated, of {','.join(FAMILIES)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="page generator seed (default 0)")
    parser.add_argument("--out", help="keep the pages and results.json/results.csv here")
    parser.add_argument("--real", help="also read real scans: <name>.<image> + <name>.txt")
    parser.add_argument(
        "--soak",
        type=int,
        nargs="?",
        const=500,
        default=0,
        help="one engine reads N pages (default 500), RSS every 50",
    )
    return parser


@contextmanager
def _workdir(out: str | None) -> Iterator[Path]:
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        yield Path(tmp)


def generated_scans(families: list[str], per_family: int, seed: int, folder: Path) -> list[Scan]:
    """The generated pages, saved under `folder`."""
    return [
        Scan(p.name, p.family, p.save(folder), p.dpi, p.text)
        for p in generate(families, per_family, seed)
    ]


def real_scans(folder: Path, work: Path) -> list[Scan]:
    """Images in `folder` with a `<stem>.txt` ground truth beside them (EXIF orientation applied,
    as the pipeline's render step does; multi-page files: first page only)."""
    scans = []
    for path in sorted(folder.iterdir()):
        truth = path.with_suffix(".txt")
        if path.suffix.lower() not in IMAGE_SUFFIXES or not truth.is_file():
            continue
        with Image.open(path) as img:
            dpi = float(img.info.get("dpi", (REAL_DPI,))[0] or REAL_DPI)
            upright = ImageOps.exif_transpose(img)
            if upright is not img:
                work.mkdir(parents=True, exist_ok=True)
                path = work / f"{path.stem}.png"
                upright.save(path, dpi=(dpi, dpi))
        scans.append(Scan(f"real-{path.stem}", "real", path, dpi, truth.read_text("utf-8")))
    if not scans:
        raise SystemExit(f"--real {folder}: no image with a <name>.txt ground truth beside it")
    return scans


def score(scan: Scan, ours: EngineRun, tess: EngineRun) -> PageResult:
    """Both engines' accuracy and time on one scan."""

    def one(run: EngineRun) -> Score:
        text = run.texts[scan.name]
        return Score(word_f1(text, scan.truth), cer(text, scan.truth), run.seconds[scan.name])

    with Image.open(scan.path) as img:
        long_side = max(img.size) / scan.dpi
    a4 = abs(long_side - A4_INCHES[1]) < 0.3
    return PageResult(
        scan.name,
        scan.family,
        len(normalize(scan.truth)),
        a4,
        one(ours),
        one(tess) if tess.ran else None,
    )


def _aggregate(rows: list[PageResult], engine: str) -> tuple[float, float, float] | None:
    """Mean word F1, CER pooled over characters, median seconds per page."""
    scores = [getattr(r, engine) for r in rows]
    if not rows or any(s is None for s in scores):
        return None
    chars = sum(r.chars for r in rows) or 1
    return (
        statistics.fmean(s.f1 for s in scores),
        sum(s.cer * r.chars for s, r in zip(scores, rows, strict=True)) / chars,
        statistics.median(s.seconds for s in scores),
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}" if b > 0 else "     -"


def table(results: list[PageResult]) -> str:
    """One row per family, then A4 pages and all pages: ours, Tesseract and their ratios."""
    head = (
        f"{'family':<10}{'pages':>5} | {'F1 ours':>7} {'tess':>6} {'diff':>6} | "
        f"{'CER ours':>8} {'tess':>6} {'ratio':>6} | {'s/pg ours':>9} {'tess':>6} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    groups = [
        (f, [r for r in results if r.family == f]) for f in dict.fromkeys(r.family for r in results)
    ]
    groups += [("A4 pages", [r for r in results if r.a4]), ("overall", results)]
    for name, rows in groups:
        ours, tess = _aggregate(rows, "ours"), _aggregate(rows, "tesseract")
        if ours is None:
            continue
        cells = f"{name:<10}{len(rows):>5} | {ours[0]:7.3f} "
        if tess is None:
            lines.append(
                cells + f"{'-':>6} {'-':>6} | {ours[1]:8.3f} {'-':>6} {'-':>6} | "
                f"{ours[2]:9.2f} {'-':>6} {'-':>6}"
            )
            continue
        lines.append(
            cells + f"{tess[0]:6.3f} {ours[0] - tess[0]:+6.3f} | {ours[1]:8.3f} "
            f"{tess[1]:6.3f} {_ratio(ours[1], tess[1])} | {ours[2]:9.2f} "
            f"{tess[2]:6.2f} {_ratio(ours[2], tess[2])}"
        )
    return "\n".join(lines)


def targets(results: list[PageResult]) -> list[str]:
    """PASS/FAIL per issue-4 target (speed on A4, F1 on every family, CER overall)."""
    a4 = [r for r in results if r.a4]
    ours, tess = _aggregate(a4, "ours"), _aggregate(a4, "tesseract")
    out = []
    if ours and tess:
        ok = ours[2] <= tess[2]
        out.append(
            f"{_verdict(ok)} s/page on A4 <= 1.0 x Tesseract: {ours[2]:.2f} vs "
            f"{tess[2]:.2f} s (x{ours[2] / tess[2]:.2f})"
        )
    families = dict.fromkeys(r.family for r in results)
    behind = []
    for fam in families:
        rows = [r for r in results if r.family == fam]
        o, t = _aggregate(rows, "ours"), _aggregate(rows, "tesseract")
        if o and t and o[0] < t[0]:
            behind.append(f"{fam} {o[0]:.3f}<{t[0]:.3f}")
    whole_o, whole_t = _aggregate(results, "ours"), _aggregate(results, "tesseract")
    if whole_o and whole_t:
        out.append(
            f"{_verdict(not behind)} word F1 >= Tesseract on every family"
            + (f"; behind on: {', '.join(behind)}" if behind else "")
        )
        out.append(
            f"{_verdict(whole_o[1] <= whole_t[1])} CER <= Tesseract: {whole_o[1]:.3f} "
            f"vs {whole_t[1]:.3f}"
        )
    return out or ["(no targets: Tesseract did not run)"]


def _load() -> str:
    """The machine's load, which timings depend on."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = " (busy machine: timings and their ratios are unreliable)" if load > cores / 2 else ""
    return f"load average {load:.1f} on {cores} cores{busy}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: list[PageResult], ours: EngineRun, tess: EngineRun) -> str:
    """The whole printout: engines, table, load and memory, targets."""
    lines = [
        _load(),
        f"ours:      {ours.version}",
        f"tesseract: {tess.version or tess.note}",
        "",
        table(results),
        "",
        f"model load: ours {ours.load_seconds:.2f} s (once per process, not in s/page)",
    ]
    if tess.ran:
        lines.append(
            f"            tesseract {tess.load_seconds:.2f} s start-up on a blank page "
            "(paid on every page: one process per page, included in its s/page)"
        )
        lines.append(
            f"peak RSS:   ours {ours.peak_rss_mib:.0f} MiB (one process: model and all "
            f"pages), tesseract {tess.peak_rss_mib:.0f} MiB (largest per-page process)"
        )
    else:
        lines.append(f"peak RSS:   ours {ours.peak_rss_mib:.0f} MiB; {tess.note}")
    return "\n".join([*lines, "", *targets(results)])


def write_results(
    folder: Path, results: list[PageResult], ours: EngineRun, tess: EngineRun
) -> None:
    """results.json (everything, texts included) and results.csv (one row per page)."""
    runs = {r.name: asdict(r) for r in (ours, tess)}
    (folder / "results.json").write_text(
        json.dumps({"engines": runs, "pages": [asdict(r) for r in results]}, indent=1), "utf-8"
    )
    with (folder / "results.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["page", "family", "chars", "a4", "engine", "word_f1", "cer", "seconds"])
        for r in results:
            for engine, s in (("ours", r.ours), ("tesseract", r.tesseract)):
                if s is not None:
                    out.writerow(
                        [
                            r.name,
                            r.family,
                            r.chars,
                            r.a4,
                            engine,
                            f"{s.f1:.4f}",
                            f"{s.cer:.4f}",
                            f"{s.seconds:.3f}",
                        ]
                    )
    print(f"pages and results kept in {folder}")


def soak(scans: list[Scan], work: Path, count: int) -> int:
    """Memory over `count` pages read by one engine: flat after warm-up and under the limit."""
    result, peak = soak_ours(scans, work, count)
    samples = [(int(p), float(r)) for p, r in result["samples"]]
    after = [r for p, r in samples if p >= result["every"]]
    flat = bool(after) and max(after) <= (1 + SOAK_FLAT) * min(after)
    print(
        f"RSS first {samples[0][1]:.0f} MiB (engine loaded), after warm-up "
        f"{after[0] if after else 0:.0f}, last {samples[-1][1]:.0f}, peak {peak:.0f} MiB"
    )
    print(
        f"{_verdict(flat)} RSS flat within {SOAK_FLAT:.0%} after warm-up "
        f"(min {min(after, default=0):.0f}, max {max(after, default=0):.0f} MiB)"
    )
    print(f"{_verdict(peak < SOAK_LIMIT_MIB)} peak RSS < {SOAK_LIMIT_MIB / 1024:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
