"""On PostgreSQL the app prepares what a connection runs often, except the name search."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import Personas, make_patient


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_chart_reads_are_prepared_after_a_few_openings_but_a_name_search_never(
    personas: Personas, signed_in: Any
) -> None:
    client = signed_in("nurse")
    patient = make_patient(personas.clinic_a, family_name="Müller", given_name="Anna")
    for _ in range(6):
        assert "Müller" in client.get(f"/patients/{patient.pk}/").content.decode()
        found = client.post("/patients/search/", {"q": "müll"}, HTTP_HX_REQUEST="true").content.decode()
        assert f"/patients/{patient.pk}/" in found  # the search still finds her, planned for "mull"
    prepared = _prepared()
    assert any('FROM "patients_patient"' in sql for sql in prepared), prepared  # the chart's patient read
    assert not any("LIKE" in sql for sql in prepared), [sql for sql in prepared if "LIKE" in sql]


@pytest.mark.parametrize(("switch", "prepared"), [("1", True), ("0", False), ("", True)])
def test_prepared_statements_can_be_turned_off_for_a_pooler(switch: str, prepared: bool) -> None:
    """DATABASE_PREPARED_STATEMENTS=0, for a pooler in transaction mode: no server-side statements."""
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}))"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prpclinic.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/any",
        "DATABASE_PREPARED_STATEMENTS": switch,
        "PRPCLINIC_TESTING": "1",  # fixed keys: the settings load without secrets
    }
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert ("'prepare_threshold': 5" in out) is prepared and ("'server_side_binding': True" in out) is prepared
