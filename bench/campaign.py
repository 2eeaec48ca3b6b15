"""`make bench-robustness`: every awkward real file of ../shared/corpus/robustness dropped at once
into a fresh `tool-ocr up`, as a hostile but fair user would.

Prints the time to drain, the outcome of every file (processed, duplicate, or quarantined with
its reason), and checks that nothing was lost: each input has exactly one `files` row, its
original sits where the row says with the same bytes, every quarantined file has its
`.error.json`, nothing is left in the inbox or `processing/`, no document is left `processing`,
no Prefect run is left Running, and no service process died. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.service import Service, wait

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "robustness"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of inputs")
    parser.add_argument("--home", type=Path, help="the service's home (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to drain at most")
    args = parser.parse_args(argv)
    inputs = {
        p.relative_to(args.corpus).as_posix(): _sha256(p)
        for p in sorted(args.corpus.rglob("*"))
        if p.is_file() and p.name != "MANIFEST.tsv"
    }
    if not inputs:
        raise SystemExit(f"no inputs under {args.corpus}")
    home = (args.home or Path(tempfile.mkdtemp(prefix="bench-robustness-"))).resolve()
    if (home / "state").exists():  # an earlier run's rows would spoil every check
        raise SystemExit(f"{home} holds an earlier run's service: give a new --home")
    service = Service(home)
    service.start()
    try:
        staging = home / "staging"  # copied on the same filesystem first, then renamed in at once
        for relative in inputs:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.corpus / relative, staging / relative)
        started = time.perf_counter()
        for top in staging.iterdir():
            top.rename(service.inbox / top.name)
        drained = wait(lambda: _settled(service, inputs), args.timeout, 1.0)
        seconds = time.perf_counter() - started
        problems = [] if drained else [f"not drained within {args.timeout:.0f} s"]
        problems += _check(service, inputs)
    finally:
        service.stop()
    print(_report(service, inputs, seconds, problems, _restarts(home)))
    return 1 if problems else 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _settled(service: Service, inputs: dict[str, str]) -> bool:
    done = {row[0] for row in service.files() if row[1] != "processing"}
    return service.idle() and done >= set(inputs)


def _check(service: Service, inputs: dict[str, str]) -> list[str]:
    rows = service.sql("SELECT relative_path, status, location, error_type FROM files")
    problems = []
    by_path = collections.Counter(row[0] for row in rows)
    for relative in inputs:
        if by_path[relative] != 1:
            problems.append(f"{relative}: {by_path[relative]} files rows")
    for relative, status, location, _ in rows:
        where = Path(location or "")
        if not where.is_file():
            problems.append(f"{relative}: {status} but nothing at {location}")
        elif relative in inputs and _sha256(where) != inputs[relative]:
            problems.append(f"{relative}: the original at {location} changed")
        if status == "failed" and not where.with_name(where.name + ".error.json").is_file():
            problems.append(f"{relative}: quarantined without its .error.json")
    stuck = service.sql("SELECT count(*) FROM documents WHERE status = 'processing'")
    if stuck and stuck[0][0]:
        problems.append(f"{stuck[0][0]} documents left processing")
    running = httpx.post(
        f"http://127.0.0.1:{service.port}/api/flow_runs/count",
        json={"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}},
        timeout=10,
    ).json()
    if running:
        problems.append(f"{running} Prefect runs left Running or Pending")
    return problems


def _restarts(home: Path) -> list[str]:
    """Service processes that died and were restarted by `up` (a worker stopped for a file past
    its time limit, or killed by one)."""
    log = (home / "up.log").read_text(errors="replace")
    return [line for line in log.splitlines() if "exited with" in line and "restart" in line]


def _report(
    service: Service,
    inputs: dict[str, str],
    seconds: float,
    problems: list[str],
    restarts: list[str],
) -> str:
    rows = service.sql("SELECT relative_path, status, location, error_type FROM files")
    outcomes = collections.Counter(
        f"{status}: {error_type}" if error_type else status for _, status, _, error_type in rows
    )
    lines = [
        f"{len(inputs)} files from {CORPUS.name}/ dropped at once; drained in {seconds:.0f} s",
        *(f"  {count:4d}  {outcome}" for outcome, count in sorted(outcomes.items())),
        f"watcher peak RSS {service.peak_rss.get('watch', 0) / 2**20:.0f} MiB, "
        f"worker {service.peak_rss.get('worker', 0) / 2**20:.0f} MiB; "
        f"slowest /health {service.slowest_health:.2f} s",
        f"processes restarted by up: {len(restarts)}",
        *(f"  {line}" for line in restarts),
    ]
    lines += [f"FAIL {p}" for p in problems] or ["PASS nothing lost, nothing twice, nothing stuck"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
