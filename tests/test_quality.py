"""House rules that a clean clone depends on: migrations, deploy checks, docs in step with code."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from prpclinic.clinics.roles import render_markdown
from prpclinic.env import ENV_VARS

ROOT = Path(__file__).resolve().parent.parent


def test_no_model_change_lacks_a_migration(db: Any) -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exc:
        pytest.fail(f"missing migration:\n{out.getvalue()} ({exc})")


def test_deploy_check_passes_with_production_settings(production_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prpclinic.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(production_env: dict[str, str]) -> None:
    env = {k: v for k, v in production_env.items() if k != "SECRET_KEY"}
    result = subprocess.run([sys.executable, "-m", "prpclinic.cli", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_deploy_check_fails_without_the_audit_key(production_env: dict[str, str]) -> None:
    env = {k: v for k, v in production_env.items() if k != "AUDIT_HMAC_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "prpclinic.cli", "check", "--deploy"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "prpclinic.E001" in result.stderr


def test_deploy_check_warns_about_sqlite_in_production(production_env: dict[str, str]) -> None:
    env = production_env | {"DATABASE_URL": "sqlite:////tmp/prod.sqlite3"}
    result = subprocess.run(
        [sys.executable, "-m", "prpclinic.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "prpclinic.W001" in result.stderr


def test_secrets_can_come_from_files(production_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "key").write_text("from-a-file-" + "z" * 40 + "\n")
    env = {k: v for k, v in production_env.items() if k != "SECRET_KEY"} | {"SECRET_KEY_FILE": str(tmp_path / "key")}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, "-m", "prpclinic.cli", "shell", "-c", code], env=env, capture_output=True, text=True
    )
    assert result.stdout.strip().splitlines()[-1] == "from-a-file-" + "z" * 40


def test_docs_roles_md_is_the_rendered_role_table() -> None:
    assert (ROOT / "docs" / "roles.md").read_text() == render_markdown()


def test_the_readme_configuration_table_lists_every_environment_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == set(ENV_VARS)


def test_settings_read_no_environment_variable_that_is_not_documented() -> None:
    source = (ROOT / "prpclinic" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|list|secret)\("([A-Z_]+)"', source))
    assert read <= set(ENV_VARS)


# Domain apps never import the interfaces built on them (views, urls, API, FHIR).
DOMAIN_MODULES = ("models", "services", "selectors", "roles", "access", "skin_types")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_domain_modules_do_not_import_views_or_urls() -> None:
    offenders = []
    for path in (ROOT / "prpclinic").glob("*/*.py"):
        if path.stem in DOMAIN_MODULES:
            bad = {
                name
                for name in _imports(path)
                if name.startswith("prpclinic") and (name.endswith((".views", ".urls")) or ".fhir" in name)
            }
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_the_demo_loads_once_with_one_user_per_role_and_30_patients(db: Any, settings: Any) -> None:
    from prpclinic.clinics.models import Membership
    from prpclinic.patients.models import Patient

    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert "already loaded; keeping its data" in out.getvalue()
    assert Patient.objects.filter(clinic__slug="linden").count() == 30
    roles = sorted(Membership.objects.filter(clinic__slug="linden").values_list("role", flat=True))
    assert roles == ["clinic_admin", "front_desk", "nurse", "physician"]
