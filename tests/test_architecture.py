"""The layer contracts (pyproject.toml [tool.importlinter], docs/architecture.md) hold today and
fail on a new breach: an upward import, even inside a function, Django in a pure package, or a
package nobody placed in a layer."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Each breach is a new module in a temporary copy of relance/, so the contract is the real one.
BREACHES = {
    "core/_breach_django.py": "import django\n",
    "ledger/_breach_upward.py": (
        "def next_step():\n"
        "    from relance.workspace import selectors  # inside a function: seen all the same\n"
        "\n"
        "    return selectors\n"
    ),
    "_unplaced_app/__init__.py": "",
}


def lint_imports(
    package_parent: Path, config: Path = ROOT / "pyproject.toml"
) -> subprocess.CompletedProcess[str]:
    """`make lint`'s check, on the relance package found under ``package_parent``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=package_parent,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def breached(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    parent = tmp_path_factory.mktemp("breached")
    shutil.copytree(ROOT / "relance", parent / "relance", ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in BREACHES.items():
        path = parent / "relance" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(source)
    return lint_imports(parent)


def test_the_code_keeps_the_layer_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    # pure, bureau-pure, ml-pure, statements-pure, layers
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_a_breach_fails_the_check(breached: subprocess.CompletedProcess[str]) -> None:
    assert breached.returncode == 1, breached.stdout + breached.stderr
    # the bureau, ml and statements contracts are kept
    assert "Contracts: 3 kept, 2 broken." in breached.stdout


def test_django_in_a_pure_package_breaks_the_pure_contract(
    breached: subprocess.CompletedProcess[str],
) -> None:
    assert "no Django, no Django app BROKEN" in breached.stdout
    assert "relance.core._breach_django -> django" in breached.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(
    breached: subprocess.CompletedProcess[str],
) -> None:
    assert "(no cycles) BROKEN" in breached.stdout
    assert "relance.ledger._breach_upward -> relance.workspace.selectors" in breached.stdout


def test_a_package_without_a_layer_breaks_the_layers(breached: subprocess.CompletedProcess[str]) -> None:
    unplaced = breached.stdout.split("The following modules are not listed as layers:")[1]
    assert "- relance._unplaced_app" in unplaced


def test_a_known_breach_once_fixed_must_leave_the_list(tmp_path: Path) -> None:
    """The ratchet: an ignore_imports entry that no longer matches an import fails the check."""
    config = (ROOT / "pyproject.toml").read_text()
    fixed = '    "relance.core.money -> relance.web.views",  # a breach that does not exist\n'
    marker = "ignore_imports = [\n"
    assert config.count(marker) == 1
    (tmp_path / "pyproject.toml").write_text(config.replace(marker, marker + fixed))
    result = lint_imports(ROOT, tmp_path / "pyproject.toml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "relance.core.money -> relance.web.views" in result.stdout + result.stderr


def test_validating_a_policy_does_not_load_the_decision_step() -> None:
    """Issue 20: ``relance.engine.dunning.policy`` (what the app imports at start-up, through the
    admin and the services) must not load Ibis, pandas or the decision step: they cost about a
    second of every command's start."""
    import subprocess
    import sys

    code = (
        "import sys; import relance.engine.dunning.policy; "
        "print(sorted(m for m in ('ibis', 'pandas', 'pyarrow', 'relance.engine.dunning.decide') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
