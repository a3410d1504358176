"""The service boundary is a check that can fail: `lint-imports` (run by `make lint` and CI) with
the contracts in pyproject.toml passes on the real tree and fails on a copy of it with a
deliberate cross-service import, or with shared/ importing a service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("shared", "gateway", "services")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # The copy must shadow the real tree (also installed in editable mode): it comes first on the path.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # A service the contracts name but nobody has written yet becomes an empty package in the copy,
    # so these tests check the configuration whatever else is unfinished (the real-tree test does not).
    for module in contract_modules():
        pkg = tmp_path.joinpath(*module.split("."))
        if not pkg.exists():
            pkg.mkdir(parents=True)
            (pkg / "__init__.py").write_text("")
    return tmp_path


def contract_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names: set[str] = set(config["root_packages"])
    for contract in config["contracts"]:
        for key in ("modules", "source_modules", "forbidden_modules", "layers"):
            names.update(contract.get(key, []))
    return names


def another_service(root: Path) -> str:
    others = sorted(p.name for p in (root / "services").iterdir()
                    if p.is_dir() and (p / "__init__.py").exists() and p.name != "accounts")
    assert others, "no service besides accounts to put the violation in"
    return others[0]


def test_the_real_tree_keeps_the_boundaries():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_copy_passes_before_it_is_broken(tree_copy):
    """The copy is faithful: without the violation it passes (so the failures below are the violation's)."""
    result = lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_service_importing_another_service_fails_the_check(tree_copy):
    victim = another_service(tree_copy)
    module = tree_copy / "services" / victim / "boundary_violation.py"
    module.write_text('"""Deliberately wrong."""\n\nimport services.accounts.models  # noqa: F401\n')
    result = lint_imports(tree_copy)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "BROKEN" in out
    assert f"services.{victim}.boundary_violation -> services.accounts.models" in out


def test_shared_importing_a_service_fails_the_check(tree_copy):
    (tree_copy / "shared" / "boundary_violation.py").write_text(
        '"""Deliberately wrong."""\n\nfrom services.accounts import models  # noqa: F401\n')
    result = lint_imports(tree_copy)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "shared.boundary_violation -> services.accounts" in out


def test_the_gateway_importing_a_service_fails_the_check(tree_copy):
    (tree_copy / "gateway" / "boundary_violation.py").write_text(
        '"""Deliberately wrong."""\n\nimport services.accounts  # noqa: F401\n')
    result = lint_imports(tree_copy)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "gateway.boundary_violation -> services.accounts" in out
