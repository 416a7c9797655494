"""Loading a route served by gunicorn, as the HTTP benchmarks do (bench_portal, bench_credit_check):
the server, its workers' CPU, and the clients (asyncio + httpx, or wrk)."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


def start_server(*, port: int, workers: int, threads: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """gunicorn serving ``config.wsgi`` on loopback with ``env`` (the production settings)."""
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


def workers_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by gunicorn's worker processes (Linux /proc).

    Divided by the requests served, it is the server's cost per request whatever else the
    machine is doing, unlike latencies, which a busy machine inflates."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wait_until_up(url: str, headers: dict[str, str] | None = None, seconds: float = 60) -> None:
    """Until the server answers 200 (its workers start slowly on a loaded machine)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer 200 at {url} within {seconds:.0f} s")


WRK_SCRIPT = """
local paths = {%s}
local headers = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("WRK %%d %%d %%f %%f %%f %%f %%f\\n", summary.requests, errors,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def wrk_load(
    urls: list[str], *, clients: int, seconds: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Back-to-back load with wrk (2 threads, ``clients`` connections) for ``seconds``, the
    ``urls`` (of one server) in turn."""
    parts = [urlsplit(url) for url in urls]
    paths = ", ".join(f'"{part.path}' + (f"?{part.query}" if part.query else "") + '"' for part in parts)
    header_list = ", ".join(f'["{name}"] = "{value}"' for name, value in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (paths, header_list))
    base = f"{parts[0].scheme}://{parts[0].netloc}/"
    output = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    requests, errors, duration, p50, p95, p99, worst = line.split()[1:]
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / float(duration),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(worst),
    }


async def load(
    urls: list[str],
    *,
    clients: int,
    total: int,
    think: float,
    headers: dict[str, str] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """``clients`` concurrent clients (keep-alive) asking for a random one of ``urls`` until
    ``total`` requests are done, each waiting 0.5–1.5 × ``think`` s between its requests."""
    import httpx

    latencies: list[float] = []
    errors = 0
    remaining = total
    lock = asyncio.Lock()
    rng = random.Random(seed)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        if think:  # clients arrive spread over a think time, not all in the same millisecond
            await asyncio.sleep(rng.uniform(0, think))
        while True:
            async with lock:
                if remaining <= 0:
                    return
                remaining -= 1
            url = rng.choice(urls)
            start = time.perf_counter()
            try:
                response = await client.get(url, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - start) * 1000)
            if not ok:
                errors += 1
            if think:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, max(0, int(round(p / 100 * len(latencies))) - 1))]

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": latencies[-1],
    }
