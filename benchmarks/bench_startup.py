"""Start-up of the ``relance`` command: how long before a command does anything (issue 20).

    .venv/bin/python benchmarks/bench_startup.py --repeat 7
    .venv/bin/python benchmarks/bench_startup.py --commands "engine run" kpi --top 15

For ``relance --help`` and ``relance COMMAND --help`` of each command: the median wall time and CPU
time (user + system of the child) over ``--repeat`` runs, and, from one ``python -X importtime`` run,
the total import time and the modules that cost most. Floors in the same run: ``python -c pass``
(the interpreter), ``python -c "import duckdb"`` (the floor the issue names) and a bare
``django.setup()`` with no app (Django's own cost). Last, a real command's start: its system
checks run, then it fails on an empty database.

Every run has the bytecode caches (one run first, not counted, writes them; the children run
without ``PYTHONDONTWRITEBYTECODE``). The import column undercounts: ``-X importtime`` does not
see the modules Django imports with ``importlib.import_module`` (the apps and their models).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
RELANCE = [PYTHON, "-m", "relance.cli"]
BARE_DJANGO = (
    "import django; from django.conf import settings; "
    "settings.configure(INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth']); django.setup()"
)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every timed run: bytecode caches written and read, as after an install
    (``PYTHONDONTWRITEBYTECODE`` set in a shell made every run compile Relance's modules again)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def measured(command: list[str], repeat: int, *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of ``command`` over ``repeat`` runs, after one
    run that is not counted (it writes the bytecode caches)."""
    env = env or child_env()
    subprocess.run(command, cwd=ROOT, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, env=env)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def import_profile(args: list[str], top: int) -> tuple[float, list[tuple[float, str]]]:
    """Total import seconds and the ``top`` top-level imports by cumulative time (``-X importtime``)."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "relance.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    total, outermost = 0.0, []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cumulative_us, name = (
            part.strip() for part in line.replace("import time:", "|").split("|")
        )
        total += int(self_us) / 1e6
        depth = len(line.split("|")[2]) - len(line.split("|")[2].lstrip())
        if depth <= 1:  # imported by the program itself, not by another module
            outermost.append((int(cumulative_us) / 1e6, name))
    return total, sorted(outermost, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median; default 5)")
    parser.add_argument(
        "--commands",
        nargs="*",
        default=["", "engine run", "run", "kpi", "import", "worklist", "send"],
        help='commands to time with --help ("" is relance --help itself)',
    )
    parser.add_argument("--top", type=int, default=8, help="costliest imports listed per command")
    args = parser.parse_args()
    env_note = f"load average {os.getloadavg()[0]:.2f}"
    print(f"# relance start-up, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {env_note}\n")
    print("| command | wall (median) | CPU (median) | imports |")
    print("|---|---:|---:|---:|")
    floors = {
        "python -c pass (floor: the interpreter)": [PYTHON, "-c", "pass"],
        'python -c "import duckdb" (the issue\'s floor)': [PYTHON, "-c", "import duckdb"],
        "bare django.setup() (auth + contenttypes)": [PYTHON, "-c", BARE_DJANGO],
    }
    for label, command in floors.items():
        wall, cpu = measured(command, args.repeat)
        print(f"| {label} | {wall:.3f} s | {cpu:.3f} s | |")
    profiles = []
    for name in args.commands:
        argv = [*name.split(), "--help"]
        wall, cpu = measured([*RELANCE, *argv], args.repeat)
        imports, top = import_profile(argv, args.top)
        profiles.append((name or "(relance --help)", top))
        print(f"| relance {' '.join(argv)} | {wall:.3f} s | {cpu:.3f} s | {imports:.3f} s |")
    with tempfile.TemporaryDirectory(prefix="relance-bench-startup-") as tmp:
        # A real command: Django's set-up, the system checks, then its first query fails (no such
        # entity in an empty database): what every command pays before its own work.
        argv = ["portal", "links", "NOBODY", "--entity", "nowhere"]
        env = child_env(DATABASE_URL=f"sqlite:///{tmp}/empty.sqlite3", RELANCE_VAR_DIR=tmp)
        wall, cpu = measured([*RELANCE, *argv], args.repeat, env=env)
        print(f"| relance {' '.join(argv)} (checks, then an error) | {wall:.3f} s | {cpu:.3f} s | |")
    for name, top in profiles:
        print(f"\nCostliest imports of `relance {name} --help` (cumulative seconds):")
        for seconds, module in top:
            print(f"  {seconds:6.3f}  {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
