"""Timing a whole process, as a user runs it: shared by the benchmarks that compare a command
with its floor (bench_decide, bench_kpi)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time


def run_process(command: list[str], stdin: str = "") -> tuple[float, float, float, str]:
    """Run ``command``: (wall s, CPU s user + system, peak RSS MiB, stdout) of that process alone
    (``os.wait4``: this child's own usage, not all children's). A failure stops the benchmark
    with the command's output."""
    with tempfile.TemporaryFile("w+") as given, tempfile.TemporaryFile("w+") as out:
        given.write(stdin)
        given.seek(0)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=given, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed:\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text.strip()
