"""`python -m bench.ocr`: our OCR engine against Tesseract, on real scans and generated pages.

Reads the real development set (`../shared/corpus/accuracy-dev`, when it is there) and
generated scan-like pages with both engines side by side, and prints word F1, CER (ordered and
order-free) and seconds per kind and family, warm against warm and per file, then PASS/FAIL
against issue 14's targets. `--rule-sweep` measures each correction rule off against all on;
`--soak N` checks memory over N pages. A benchmark, not a test: it exits 0 once it has measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from bench.engines import EngineRun, Scan, run_side_by_side, soak_ours
from bench.metrics import bag_cer, cer, normalize, word_f1
from bench.pages import FAMILIES, font_versions, generate
from bench.real import DEV_SET, comparable, real_scans
from bench.report import PageResult, Score, per_file, table, targets
from bench.sweep import rule_sweep, weight_sweep
from core.settings import Settings

SOAK_FLAT, SOAK_LIMIT_MIB = 0.10, 1.5 * 1024


def main(argv: list[str] | None = None) -> int:
    """Build the scans, run both engines (or the sweep, or the soak), print the tables."""
    args = _parser().parse_args(argv)
    env = _ours_env(args)
    with _workdir(args.out) as work:
        scans = generated_scans(args.families, args.pages, args.seed, work / "pages")
        real = None if args.real == "none" else Path(args.real or DEV_SET)
        if real is not None and (args.real or real.is_dir()):
            scans += real_scans(real, work / "real")
        if args.soak:
            return soak(scans, work, args.soak)
        print(f"{len(scans)} pages, {_load()}; {font_versions()}", flush=True)
        if args.rule_sweep:
            print(rule_sweep([s for s in scans if s.family not in FAMILIES], work, env, score))
            return 0
        if args.weight_sweep:
            print(weight_sweep(scans, work, env, score, args.weight_sweep))
            return 0
        threads = args.tesseract_threads or Settings.load().ocr_threads
        ours, tess = run_side_by_side(scans, work, threads, env)
        results = [score(scan, ours, tess) for scan in scans]
        print(report(results, ours, tess))
        if args.out:
            write_results(Path(args.out), results, ours, tess)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__)
    add = parser.add_argument
    add("--pages", type=int, default=3, help="generated pages per family (default 3)")
    add(
        "--families",
        type=lambda s: [f for f in s.split(",") if f],
        default=list(FAMILIES),
        help=f"comma-separated, of {','.join(FAMILIES)}; '' for none",
    )
    add("--seed", type=int, default=0, help="page generator seed (default 0)")
    add("--real", help=f"real scans with <name>.gt.txt (default {DEV_SET} if there; 'none')")
    add("--weights", help="TOOL_OCR_OCR_WEIGHTS for our engine (default: the setting's)")
    add("--rules-off", default="", help="correction rules switched off, comma-separated")
    add("--tesseract-threads", type=int, help="Tesseract's threads (default: the same as ours)")
    add("--rule-sweep", action="store_true", help="each rule off against all on, real set")
    add(
        "--weight-sweep",
        type=lambda s: [w for w in s.split(",") if w],
        help="our engine alone with each of these weight sets, comma-separated",
    )
    add("--out", help="keep the pages and results.json/results.csv here")
    add("--soak", type=int, nargs="?", const=500, default=0, help="memory over N pages")
    return parser


def _ours_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"BENCH_RULES_OFF": args.rules_off}
    return env | ({"TOOL_OCR_OCR_WEIGHTS": args.weights} if args.weights else {})


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


def score(scan: Scan, ours: EngineRun, tess: EngineRun) -> PageResult:
    """Both engines' accuracy and time on one scan, by its kind's conventions."""
    truth = comparable(scan.family, scan.truth)

    def one(run: EngineRun) -> Score:
        text = comparable(scan.family, run.texts[scan.name])
        return Score(
            word_f1(text, truth), cer(text, truth), bag_cer(text, truth), run.seconds[scan.name]
        )

    real = scan.family not in FAMILIES
    scored = one(tess) if tess.ran else None
    return PageResult(scan.name, scan.family, len(normalize(truth)), real, one(ours), scored)


def _load() -> str:
    """The machine's load, which timings depend on."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = " (busy machine: timings and their ratios are unreliable)" if load > cores / 2 else ""
    return f"load average {load:.1f} on {cores} cores{busy}"


def report(results: list[PageResult], ours: EngineRun, tess: EngineRun) -> str:
    """The whole printout: engines, table, per-file view, start-up and memory, targets."""
    lines = [_load(), f"ours:      {ours.version}", f"tesseract: {tess.version or tess.note}"]
    lines += ["", "warm against warm (model loaded; seconds: total over the pages)", table(results)]
    if tess.ran:
        lines += [
            "",
            per_file(results, ours.start_seconds, tess.start_seconds),
            f"start-up:   ours {ours.start_seconds:.2f} s (new process until the model is "
            f"loaded), tesseract {tess.start_seconds:.2f} s (its CLI on a blank page)",
            f"peak RSS:   ours {ours.peak_rss_mib:.0f} MiB, tesseract {tess.peak_rss_mib:.0f} "
            "MiB (each one process: model and all pages)",
        ]
    return "\n".join([*lines, "", *targets(results)])


def write_results(
    folder: Path, results: list[PageResult], ours: EngineRun, tess: EngineRun
) -> None:
    """results.json (everything, texts included) and results.csv (one row per page)."""
    runs = {r.name: asdict(r) for r in (ours, tess)}
    pages = [asdict(r) for r in results]
    (folder / "results.json").write_text(
        json.dumps({"engines": runs, "pages": pages}, indent=1), "utf-8"
    )
    with (folder / "results.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["page", "family", "chars", "engine", "word_f1", "cer", "bag_cer", "s"])
        for r in results:
            for engine, s in (("ours", r.ours), ("tesseract", r.tesseract)):
                if s is not None:
                    values = (s.f1, s.cer, s.bag_cer, s.seconds)
                    out.writerow([r.name, r.family, r.chars, engine, *(f"{v:.4f}" for v in values)])
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
    verdict = {True: "PASS", False: "FAIL"}
    print(
        f"{verdict[flat]} RSS flat within {SOAK_FLAT:.0%} after warm-up "
        f"(min {min(after, default=0):.0f}, max {max(after, default=0):.0f} MiB)"
    )
    print(f"{verdict[peak < SOAK_LIMIT_MIB]} peak RSS < {SOAK_LIMIT_MIB / 1024:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
