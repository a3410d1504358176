"""Every setting is an environment variable documented in docs/configuration.md: each field of every
pydantic-settings class under shared/, gateway/ and services/, and every ROUMU_* name the code reads
directly from the environment."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
PACKAGES = ("shared", "gateway", "services", "ops")
SETTINGS_PACKAGES = ("shared", "gateway", "services")


def python_files(packages: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for pkg in packages:
        files += [p for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def settings_classes() -> list[type[BaseSettings]]:
    """Classes deriving from BaseSettings, found by reading the source, then imported."""
    found: list[type[BaseSettings]] = []
    for path in python_files(SETTINGS_PACKAGES):
        tree = ast.parse(path.read_text(), str(path))
        names = [node.name for node in ast.walk(tree)
                 if isinstance(node, ast.ClassDef) and any(base_name(b).endswith("Settings") for b in node.bases)]
        if not names:
            continue
        module = importlib.import_module(module_name(path))
        for name in names:
            obj = getattr(module, name, None)
            if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def env_names(cls: type[BaseSettings], field: str) -> list[str]:
    info = cls.model_fields[field]
    alias = info.validation_alias or info.alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasPath):
        return [str(alias.path[0])]
    return [f"{cls.model_config.get('env_prefix', '')}{field}".upper()]


def documented() -> str:
    return DOC.read_text()


def test_settings_classes_are_found():
    names = {c.__name__ for c in settings_classes()}
    assert "CommonSettings" in names


def test_every_settings_field_is_documented_by_its_environment_variable():
    doc = documented()
    missing = []
    for cls in settings_classes():
        for field in cls.model_fields:
            names = env_names(cls, field)
            if not any(f"`{n}`" in doc for n in names):
                missing.append(f"{cls.__module__}.{cls.__name__}.{field} ({' or '.join(names)})")
    assert not missing, "not in docs/configuration.md:\n" + "\n".join(missing)


def test_every_environment_variable_the_code_reads_is_documented():
    doc = documented()
    literal = re.compile(r"""["'](ROUMU_[A-Z0-9_]*[A-Z0-9]|NATS_URL)["']""")
    missing = set()
    for path in python_files(PACKAGES):
        for name in literal.findall(path.read_text()):
            if f"`{name}`" not in doc:
                missing.add(f"{name} ({path.relative_to(ROOT)})")
    assert not missing, "not in docs/configuration.md:\n" + "\n".join(sorted(missing))


def test_per_service_variables_are_documented():
    doc = documented()
    for pattern in ("ROUMU_<SERVICE>_DATABASE_URL", "ROUMU_<SERVICE>_URL", "ROUMU_<SERVICE>_PORT",
                    "ROUMU_TEST_POSTGRES_URL"):
        assert f"`{pattern}`" in doc, pattern
