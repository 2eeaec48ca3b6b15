"""The hot-folder service end to end, measured (`make bench-hotfolder`).

Brings `tool-ocr up` up in a fresh TOOL_OCR_HOME (its own local Prefect server on a free port)
and measures, in one run:
1. latency: one one-page drop at a time, from the drop to its row in the analysts' DuckDB
   (median of --drops);
2. a burst of --burst files at once (some written slowly, some duplicates, a few corrupt),
   stopped (SIGTERM) and restarted midway: every file must end in exactly one place with one
   DuckDB row; pages per minute against the raw engine loop on the same pages in one process,
   side by side; the watcher's peak RSS;
3. prune-expired: its cron schedule through the Prefect API, and a dry run that must list
   exactly the files back-dated past retention.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "invoice",
    "total",
    "amount",
    "delivery",
    "order",
    "customer",
    "account",
    "balance",
    "payment",
    "due",
    "date",
    "shipped",
    "received",
    "quantity",
    "price",
    "tax",
    "discount",
    "reference",
    "number",
    "street",
    "city",
)


def page(seed: int) -> bytes:
    """A one-page scan-like PNG (about A5 at 200 dpi) with 12 lines of distinct text."""
    rng = random.Random(seed)
    font = ImageFont.load_default(size=30)
    img = Image.new("L", (1200, 900), "white")
    draw = ImageDraw.Draw(img)
    for i in range(12):
        words = " ".join(rng.choice(WORDS) for _ in range(6))
        draw.text((60, 50 + i * 66), f"{words} {seed}-{i}", fill="black", font=font)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", dpi=(200, 200))
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def query(home: Path, sql: str) -> list[tuple[object, ...]]:
    from store.snapshot import query_snapshot

    try:
        return query_snapshot(home / "tool_ocr.duckdb", sql)[1]
    except Exception:
        return []


def placed(home: Path) -> dict[str, str]:
    return {
        str(r[0]): str(r[1])
        for r in query(home, "SELECT relative_path, status FROM files WHERE status <> 'processing'")
    }


def wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Service:
    """`tool-ocr up` in a child process; the watcher's RSS sampled while it runs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.peak_watcher_rss = env, 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tool_ocr.cli", "up"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        threading.Thread(target=self._sample, args=(self.process,), daemon=True).start()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)

    def _sample(self, process: subprocess.Popen[bytes]) -> None:
        parent = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                for child in parent.children():
                    if "watch" in child.cmdline():
                        self.peak_watcher_rss = max(self.peak_watcher_rss, child.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.5)


def ready(home: Path, env: dict[str, str]) -> bool:
    api = env["PREFECT_API_URL"]
    from deployments.server import api_answers

    return api_answers(api) and (home / "state" / "watcher.json").exists()


def latency(home: Path, drops: int) -> list[float]:
    seconds = []
    for n in range(drops):
        name = f"latency-{n}.png"
        data = page(10_000 + n)
        started = time.monotonic()
        tmp = home / "inbox" / f".{name}"
        tmp.write_bytes(data)
        tmp.rename(home / "inbox" / name)  # appears at once, as a finished copy does
        if not wait(lambda name=name: name in placed(home), 180):
            raise SystemExit(f"{name} never reached DuckDB")
        seconds.append(time.monotonic() - started)
        print(f"  drop {n + 1}: {seconds[-1]:.1f} s", flush=True)
    return seconds


def burst(home: Path, count: int) -> dict[str, str]:
    """Drop `count` files at once: 10 % duplicates, 3 corrupt, 5 written slowly."""
    expected: dict[str, str] = {}
    inbox = home / "inbox" / "burst"
    inbox.mkdir()
    originals = max(1, count - count // 10 - 3 - 5)
    for n in range(originals):
        (inbox / f"scan-{n:03}.png").write_bytes(page(n))
        expected[f"burst/scan-{n:03}.png"] = "processed"
    for n in range(count // 10):
        (inbox / f"dup-{n:03}.png").write_bytes(page(n))
        expected[f"burst/dup-{n:03}.png"] = "duplicate"
    for n in range(3):
        (inbox / f"corrupt-{n}.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(2000))
        expected[f"burst/corrupt-{n}.pdf"] = "failed"
    slow = [(inbox / f"slow-{n}.png", page(500 + n)) for n in range(5)]
    threading.Thread(target=write_slowly, args=(slow,), daemon=True).start()
    expected.update({f"burst/{path.name}": "processed" for path, _ in slow})
    return expected


def write_slowly(files: list[tuple[Path, bytes]]) -> None:
    handles = [(path.open("wb"), data) for path, data in files]
    for step in range(10):  # ten chunks, 0.5 s apart: 5 s per file
        for handle, data in handles:
            size = len(data) // 10 + 1
            handle.write(data[step * size : (step + 1) * size])
            handle.flush()
        time.sleep(0.5)
    for handle, _ in handles:
        handle.close()


def raw_engine(files: list[bytes]) -> float:
    """Pages per minute of the bare engine on the same pages, one process, model loaded once."""
    import numpy as np

    from engine import EngineConfig, get_engine

    engine = get_engine(EngineConfig())
    engine.read(np.asarray(Image.open(io.BytesIO(files[0])).convert("L")))  # warm-up
    started = time.monotonic()
    for data in files:
        engine.read(np.asarray(Image.open(io.BytesIO(data)).convert("L")))
    return 60 * len(files) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--home", type=Path, default=None, help="keep the run here")
    parser.add_argument(
        "--batch-max",
        type=int,
        default=None,
        help="TOOL_OCR_BATCH_MAX_FILES for the service (1: no batching)",
    )
    args = parser.parse_args()
    home = (args.home or Path(tempfile.mkdtemp(prefix="tool-ocr-bench-"))).resolve()
    port = free_port()
    env = {
        **os.environ,
        "TOOL_OCR_HOME": str(home),
        "TOOL_OCR_SERVER_PORT": str(port),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "TOOL_OCR_SNAPSHOT_INTERVAL": "1",
    }
    if args.batch_max:
        env["TOOL_OCR_BATCH_MAX_FILES"] = str(args.batch_max)
    os.environ.update({k: env[k] for k in ("TOOL_OCR_HOME", "PREFECT_API_URL")})
    print(
        f"home {home}, Prefect on port {port}, batches of up to "
        f"{env.get('TOOL_OCR_BATCH_MAX_FILES', 'the default')} files"
    )
    service = Service(env)
    service.start()
    if not wait(lambda: ready(home, env), 180):
        raise SystemExit("the service did not come up")

    print(f"1. latency, {args.drops} one-page drops, drop -> row in DuckDB:")
    seconds = latency(home, args.drops)

    print(f"2. burst of {args.burst} files, service stopped and restarted midway:")
    expected = burst(home, args.burst)
    started = time.monotonic()
    wait(lambda: len(placed(home)) >= args.drops + args.burst // 3, 900)
    service.stop()
    stopped_at = len(placed(home)) - args.drops
    service.start()
    ok = wait(lambda: len(placed(home)) >= args.drops + len(expected), 1800)
    elapsed = time.monotonic() - started
    outcome = {k: v for k, v in placed(home).items() if k.startswith("burst/")}
    wrong = {k: (v, outcome.get(k)) for k, v in expected.items() if outcome.get(k) != v}
    rows = query(home, "SELECT count(*), count(DISTINCT relative_path) FROM files")
    leftovers = [p for p in (home / "inbox").rglob("*") if p.is_file()] + [
        p for p in (home / "processing").rglob("*") if p.is_file()
    ]
    pages = sum(1 for v in expected.values() if v == "processed")

    print("3. prune-expired:")
    prune = prune_check(home)
    service.stop()
    raw = raw_engine([page(n) for n in range(min(pages, 20))])
    service_ppm = 60 * pages / elapsed
    print("\n== results ==")
    print(
        f"latency drop -> DuckDB row: median {statistics.median(seconds):.1f} s "
        f"(min {min(seconds):.1f}, max {max(seconds):.1f}, n={len(seconds)})"
    )
    print(
        f"burst: {len(expected)} files, all placed: {ok and not wrong}, wrong: {wrong or 'none'}"
        f", stopped after {stopped_at} placed and restarted"
    )
    print(
        f"  files rows {rows[0][0] if rows else '?'} for {rows[0][1] if rows else '?'} "
        f"arrivals, left in inbox/processing: {len(leftovers)}"
    )
    print(
        f"  pages/min: service {service_ppm:.1f} (incl. restart) vs raw engine loop "
        f"{raw:.1f}: ratio {service_ppm / raw:.2f}"
    )
    print(f"  watcher peak RSS {service.peak_watcher_rss / 2**20:.0f} MiB")
    print(
        f"prune-expired: schedule {prune['schedule']}, dry run listed exactly the expired "
        f"files: {prune['exact']} ({prune['listed']} listed, {prune['expected']} expired)"
    )


def prune_check(home: Path) -> dict[str, object]:
    """Back-date some processed originals; prune-expired's dry run must list exactly those."""
    from prefect.client.orchestration import get_client

    from flows.prune_expired import prune_expired

    processed = sorted(p for p in (home / "processed").rglob("*") if p.is_file())
    old = time.time() - 25 * 3600
    expired = processed[: max(1, len(processed) // 4)]
    for path in expired:
        os.utime(path, (old, old))
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("prune-expired/prune-expired")
    listed = set(prune_expired(dry_run=True)["paths"])
    return {
        "schedule": [getattr(s.schedule, "cron", None) for s in deployment.schedules],
        "exact": listed == {str(p) for p in expired} and all(p.exists() for p in expired),
        "listed": len(listed),
        "expected": len(expired),
    }


if __name__ == "__main__":
    main()
