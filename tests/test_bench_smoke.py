"""Every benchmark has a smoke size (``make bench-smoke`` runs them all in CI)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _smoke_module():
    spec = importlib.util.spec_from_file_location("benchmarks_smoke", BENCHMARKS / "smoke.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_has_a_smoke_size() -> None:
    smoke = _smoke_module()
    assert sorted(smoke.SMOKE_ARGS) == smoke.benchmark_names()
    assert smoke.NEEDS_POSTGRES <= set(smoke.SMOKE_ARGS)


def test_a_postgres_benchmark_without_postgres_is_reported_skipped(monkeypatch) -> None:
    smoke = _smoke_module()
    monkeypatch.delenv("RELANCE_TEST_POSTGRES_URL", raising=False)
    result = smoke.smoke_run("bench_dashboard")
    assert result.skipped and result.passed
    assert result.output_tail == smoke.POSTGRES_SKIP
