"""Reads compiled once (prpclinic.db.compiled_read) answer exactly what their querysets answer.

The chart, the session and the signed-in user's clinics are read through SQL built once per
thread; each such read is checked here against Django's own evaluation of the same queryset, on a
patient with a row in every table the chart shows, field by field, with the objects it joins.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from typing import Any

import pytest
from django.db.models import Model, QuerySet
from django.utils import timezone

import prpclinic
from prpclinic.db import COMPILED_READS, CompiledRead, compiled_read
from prpclinic.patients.models import ExternalIdentifier, Patient
from tests.conftest import Chain, Personas, clinic_request, make_patient
from tests.matrix_outcomes import placeholders as outcome_rows
from tests.matrix_scheduling import make_appointment, schedule_setup
from tests.test_chart_timeline import one_of_each


def _import_app_modules() -> None:
    """Every module of the app, so that every compiled read is registered (they live in selectors)."""
    for module in pkgutil.walk_packages(prpclinic.__path__, "prpclinic."):
        if ".migrations" not in module.name and not module.name.endswith(("wsgi", "asgi")):
            importlib.import_module(module.name)


def _state(obj: Model, depth: int = 0) -> dict[str, Any]:
    """What a template can read of ``obj`` without a query: its loaded fields, annotations and joined objects."""
    state: dict[str, Any] = {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}
    if depth < 3:
        for name, related in obj._state.fields_cache.items():
            state[f"joined:{name}"] = None if related is None else _state(related, depth + 1)
        for name, rows in getattr(obj, "_prefetched_objects_cache", {}).items():
            state[f"prefetched:{name}"] = [_state(row, depth + 1) for row in rows]
    return state


def _rich_patient(personas: Personas, chain: Chain) -> dict[str, Any]:
    """A patient with a plan, screening, consent, visit, PRP product, adverse event, aftercare,
    photo, score, appointment, another system's number and a changed record; the values every
    compiled read takes."""
    from prpclinic.treatments.models import TreatmentPlan
    from prpclinic.treatments.plans import plan_set_count

    one_of_each(personas, chain)
    plan = TreatmentPlan.objects.get(patient=chain.patient)
    plan_set_count(
        request=clinic_request(personas.nurse, personas.clinic_a), plan_id=plan.pk, sessions=5, reason="Slow"
    )
    outcome_rows(personas, chain.patient)
    schedule = schedule_setup(personas)
    make_appointment(personas, chain.patient, schedule, starts_at=timezone.now() + dt.timedelta(days=3))
    ExternalIdentifier.objects.create(
        clinic=personas.clinic_a,
        patient=chain.patient,
        system="https://hospital.example/mrn",
        value="H-1",
        source="staff",
    )
    client_values = {"clinic_id": personas.clinic_a.pk, "patient_id": chain.patient.pk}
    return client_values


def test_every_compiled_read_answers_what_its_queryset_answers(
    personas: Personas, signed_in: Any, chain: Chain
) -> None:
    _import_app_modules()
    values = _rich_patient(personas, chain)
    client = signed_in("nurse")
    client.get(f"/patients/{chain.patient.pk}/")  # writes the history's first rows (a view is not one)
    edited = client.post(f"/patients/{chain.patient.pk}/edit/", {**_patient_form(chain.patient), "phone": "+43 1 555"})
    assert edited.status_code == 302, edited.content.decode()[:2000]  # a change: a row of the record history
    values["user_id"] = personas.nurse.pk
    values["session_key"] = client.cookies["sessionid"].value
    assert len(COMPILED_READS) >= 14
    for read in COMPILED_READS:
        if read.__module__.startswith("tests."):
            continue
        args = {name: values[name] for name in read.names}  # a KeyError: give the new parameter a value above
        expected = list(read.queryset(**args))
        got = read(**args)
        assert expected, f"{read.__qualname__} found nothing: the test data must give it rows"
        assert [_state(o) for o in got] == [_state(o) for o in expected], read.__qualname__
        assert read(**args) and [o.pk for o in read(**args)] == [o.pk for o in expected]  # compiled, run again


def _patient_form(patient: Patient) -> dict[str, Any]:
    return {
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "email": patient.email,
        "address": patient.address,
        "fitzpatrick_skin_type": patient.fitzpatrick_skin_type or "",
        "allergies": patient.allergies,
        "current_medications": patient.current_medications,
        "notes": patient.notes,
    }


def test_a_compiled_read_scopes_by_its_values_each_time(personas: Personas, chain: Chain) -> None:
    """The second call with other values answers for them, not for the values it was compiled with."""
    from prpclinic.patients.selectors import _patient

    other = make_patient(personas.clinic_b, given_name="Olga", family_name="Other")
    assert _patient(clinic_id=personas.clinic_a.pk, patient_id=chain.patient.pk)[0].family_name == "Weber"
    assert _patient(clinic_id=personas.clinic_b.pk, patient_id=other.pk)[0].family_name == "Other"
    assert _patient(clinic_id=personas.clinic_a.pk, patient_id=other.pk) == []  # another clinic's: nothing


@compiled_read()
def _computed_on(clinic_id: int, patient_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=clinic_id, pk=patient_id + 1)


@compiled_read()
def _unused(clinic_id: int, patient_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=clinic_id)


@compiled_read()
def _values(clinic_id: int) -> QuerySet[Any]:
    return Patient.objects.filter(clinic_id=clinic_id).values("pk")


@compiled_read()
def _prefetching(clinic_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=clinic_id).prefetch_related("visits")


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (_computed_on, "is used as"),
        (_unused, "patient_id not found"),
        (_values, "only querysets of model instances"),
        (_prefetching, "use attach_related"),
    ],
)
def test_a_read_that_cannot_be_compiled_is_refused_not_answered_wrongly(
    personas: Personas, chain: Chain, read: CompiledRead[Any], message: str
) -> None:
    args = {"clinic_id": personas.clinic_a.pk, "patient_id": chain.patient.pk}
    with pytest.raises(TypeError, match=message):
        read(**{name: args[name] for name in read.names})


def test_the_session_read_honours_expiry(personas: Personas, signed_in: Any) -> None:
    """An expired session is not a session, as with Django's own store: the chart asks for a sign-in."""
    from django.contrib.sessions.models import Session

    client = signed_in("nurse")
    assert client.get("/patients/").status_code == 200
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    response = client.get("/patients/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_id_beyond_any_row_answers_not_found_not_an_error(personas: Personas, signed_in: Any) -> None:
    """A URL's <int:> takes any digits; the chart of an id no column can hold is a 404, as before it was compiled."""
    assert signed_in("nurse").get("/patients/99999999999999999999/").status_code == 404
