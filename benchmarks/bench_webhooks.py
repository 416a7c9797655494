"""Webhook delivery: throughput with 2 workers, commit→receipt latency, a receiver down then back.

Usage: .venv/bin/python benchmarks/bench_webhooks.py [--events 5000] [--customers 500] [--workers 2]
       [--latency-events 100] [--interval 0.05] [--down-events 300] [--down-seconds 20]

All against a real HTTP receiver on loopback (tests/webhooks/receiver.py, in this process) and a
fresh migrated SQLite file; the workers are ``relance send --channel webhook`` / ``relance worker
--channel webhook`` processes (tests/webhooks/process_runner.py, loopback allowed).

1. Throughput: N ``invoice.paid`` events over C customers are committed, then W ``relance send``
   processes deliver them (signed, through the guarded pooled client, claim and record commits
   per batch). Rate = N / (last receipt − first receipt); wall includes process start-up; the
   workers' CPU seconds. The simple approach in the same run: a bare httpx loop in this process
   POSTing the same number of signed bodies to the same receiver (no database, no retries).
2. Latency: with ``relance worker`` running, events are committed one by one ``--interval`` apart;
   p50/p95/max of receipt − commit.
3. Receiver down then back: the receiver is stopped (connection refused) while events are
   committed, for ``--down-seconds``, then started again on the same port; every event must
   arrive, no id twice in a row, each customer's events in order (retries every 0.5 s × 2^n here,
   ``RELANCE_WEBHOOK_RETRY_SECONDS=0.5``; in production the base is 5 s).
Exits 1 when an event is missing, arrives twice in a row, or out of order for its customer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RUNNER = REPO / "tests" / "webhooks" / "process_runner.py"

from tests.webhooks.receiver import Receiver  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def runner(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args], env=env, cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUNNER), *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


TEMPLATE: dict[Path, Path] = {}


def fresh_env(folder: Path) -> dict[str, str]:
    """A fresh database for a phase: a copy of one migrated SQLite file (migrating takes a minute
    on a loaded machine)."""
    import shutil

    base = {
        **os.environ,
        "RELANCE_VAR_DIR": str(folder),
        "RELANCE_WEBHOOK_RETRY_SECONDS": "0.5",
        "RELANCE_WEBHOOK_POLL_SECONDS": "0.1",
    }
    if folder not in TEMPLATE:
        template = folder / "template.sqlite3"
        runner({**base, "DATABASE_URL": f"sqlite:///{template}"}, "migrate", "--noinput", "-v", "0")
        TEMPLATE[folder] = template
    path = folder / f"{uuid.uuid4().hex}.sqlite3"
    shutil.copyfile(TEMPLATE[folder], path)
    return {**base, "DATABASE_URL": f"sqlite:///{path}"}


def order_problems(receiver: Receiver) -> tuple[int, int]:
    """(events out of order for their customer, ids received twice in a row) among 2xx answers."""
    out_of_order = 0
    twice = 0
    last_seq: dict[str, int] = {}
    previous = ""
    for request in receiver.received:
        body = request.json
        key = body["data"]["customer"]["external_ref"]
        seq = body["data"]["seq"]
        if seq < last_seq.get(key, -1):
            out_of_order += 1
        last_seq[key] = max(seq, last_seq.get(key, -1))
        if request.id == previous:
            twice += 1
        previous = request.id
    return out_of_order, twice


def wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def warm_up(env: dict[str, str], receiver: Receiver) -> None:
    """One event through the running worker, so that its start-up is over; then forgotten."""
    runner(env, "emit-paced", "1", "0", "1")
    if not wait_for(lambda: len(receiver.received) >= 1, 120):
        raise SystemExit("the worker delivered nothing within 120 s")
    receiver.received.clear()


def throughput(folder: Path, events: int, customers: int, workers: int) -> dict[str, float]:
    receiver = Receiver().start()
    env = fresh_env(folder)
    runner(env, "populate", receiver.url, str(events), str(customers))
    say(f"throughput: {events} events committed; {workers} workers start")
    cpu = children_cpu()
    started = time.perf_counter()
    procs = [
        spawn(
            env,
            "send",
            "--channel",
            "webhook",
            "--limit",
            str(events),
            "--worker-id",
            f"bench-{n}",
            "--quiet",
        )
        for n in range(workers)
    ]
    for proc in procs:
        proc.wait()
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu
    state = json.loads(runner(env, "state"))
    arrivals = sorted(r.arrived for r in receiver.received)
    ids = {r.id for r in receiver.received}
    receiver.stop()
    steady = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    # The simple approach: a bare httpx loop, same receiver, same bodies, signed.
    import httpx

    from relance.webhooks import signing

    bare = Receiver().start()
    secret = signing.secret_new()
    body = json.dumps({"type": "invoice.paid", "data": {"seq": 0}}).encode()
    bare_started = time.perf_counter()
    with httpx.Client() as client:
        for number in range(events):
            headers = signing.headers([secret], f"msg_{number}", int(time.time()), body)
            client.post(bare.url, content=body, headers=headers)
    bare_wall = time.perf_counter() - bare_started
    bare.stop()
    return {
        "events": events,
        "received_distinct": len(ids),
        "delivered": state.get("delivered", {}).get("n", 0),
        "rate_per_s": round(events / steady, 1),
        "wall_s": round(wall, 2),
        "workers_cpu_s": round(cpu, 2),
        "bare_httpx_rate_per_s": round(events / bare_wall, 1),
    }


def latency(folder: Path, count: int, interval: float) -> dict[str, float]:
    receiver = Receiver().start()
    env = fresh_env(folder)
    runner(env, "populate", receiver.url, "0", "20")
    worker = spawn(env, "worker", "--channel", "webhook", "--worker-id", "lat", "--quiet")
    warm_up(env, receiver)  # the worker's start-up is not part of the latency
    say("latency: worker warm")
    committed = json.loads(runner(env, "emit-paced", str(count), str(interval), "20"))
    ok = wait_for(lambda: len({r.id for r in receiver.received}) >= count, 60)
    worker.terminate()
    worker.wait()
    arrived = {r.id: r.arrived for r in receiver.received}
    receiver.stop()
    delays = sorted(arrived[uid] - at for uid, at in committed.items() if uid in arrived)
    return {
        "events": count,
        "all_arrived": ok,
        "p50_s": round(statistics.median(delays), 3),
        "p95_s": round(delays[int(0.95 * (len(delays) - 1))], 3),
        "max_s": round(delays[-1], 3),
    }


def down_then_back(folder: Path, count: int, customers: int, down: float) -> dict[str, float]:
    receiver = Receiver().start()
    port = receiver.server.server_address[1]  # type: ignore[union-attr]
    env = fresh_env(folder)
    runner(env, "populate", receiver.url, "0", str(customers))
    worker = spawn(env, "worker", "--channel", "webhook", "--worker-id", "down", "--quiet")
    warm_up(env, receiver)
    say("down: worker warm; receiver stopped")
    receiver.stop()  # down: connections refused
    runner(env, "emit-paced", str(count), str(down / count), str(customers))  # takes ``down`` s
    revived = Receiver().start(port=port)  # back, on the endpoint's port
    say("down: receiver back")
    back_at = time.perf_counter()
    # The first events have failed for ``down`` seconds: their next attempt comes up to 1.5 × that
    # later (exponential backoff with jitter), so the drain may take as long.
    ok = wait_for(lambda: len({r.id for r in revived.received}) >= count, 60 + 1.6 * down)
    drained = time.perf_counter() - back_at
    worker.terminate()
    worker.wait()
    state = json.loads(runner(env, "state"))
    out_of_order, twice = order_problems(revived)
    ids = [r.id for r in revived.received]
    revived.stop()
    return {
        "events": count,
        "down_s": down,
        "all_delivered": ok,
        "received": len(ids),
        "distinct": len(set(ids)),
        "twice_in_a_row": twice,
        "out_of_order": out_of_order,
        "drained_after_back_s": round(drained, 2),
        "attempts": sum(v.get("attempts") or 0 for v in state.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-events", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--down-events", type=int, default=300)
    parser.add_argument("--down-seconds", type=float, default=20)
    options = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["throughput"] = throughput(Path(folder), options.events, options.customers, options.workers)
        results["latency"] = latency(Path(folder), options.latency_events, options.interval)
        results["down_then_back"] = down_then_back(
            Path(folder), options.down_events, min(options.customers, 50), options.down_seconds
        )
    print(json.dumps(results, indent=2))
    t, d = results["throughput"], results["down_then_back"]
    failed = (
        t["received_distinct"] != t["events"]
        or not results["latency"]["all_arrived"]
        or not d["all_delivered"]
        or d["twice_in_a_row"]
        or d["out_of_order"]
    )
    if failed:
        print("MISMATCH: an event was missing, repeated in a row or out of order", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
