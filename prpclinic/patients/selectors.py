"""Reads of the patient registry, scoped to the clinic, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet, Value
from django.db.models.functions import Concat
from django.http import Http404, HttpRequest

from prpclinic.audit.models import AuditEvent
from prpclinic.db import compiled_read, planned_for_its_values
from prpclinic.patients.models import ExternalIdentifier, Patient, fold

SEARCH_LIMIT = 25
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


def parse_search_date(text: str) -> dt.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


# What a row of the search results shows: reading only these columns (not the address, notes,
# allergies...) took a quarter off the search's ORM time on 100,000 patients.
SEARCH_ROW_FIELDS = ("id", "family_name", "given_name", "mrn", "date_of_birth", "is_active")


def patient_search(
    *,
    clinic_id: int,
    query: str,
    include_inactive: bool = False,
    limit: int = SEARCH_LIMIT,
    fields: tuple[str, ...] = (),
) -> list[Patient]:
    """Patients matching part of a name, an MRN, or a date of birth (2024-03-01, 01.03.2024).

    Each word must occur in "family given mrn" (folded). On PostgreSQL the ``LIKE '%word%'``
    is served by the trigram index; a single two-letter word matches the start of the family
    name instead, which a B-tree index serves. One query, at most ``limit`` rows.
    ``fields``: read only these columns (any other one read later costs a query per row).
    """
    text = query.strip()
    if len(text) < 2:
        return []
    patients: QuerySet[Patient] = Patient.objects.filter(clinic_id=clinic_id)
    if not include_inactive:
        patients = patients.filter(is_active=True)
    order: tuple[Any, ...] = ("family_name", "given_name", "id")
    born = parse_search_date(text)
    if born is not None:
        patients = patients.filter(date_of_birth=born)
    else:
        words = fold(text).split()[:4]
        if len(words) == 1 and len(words[0]) < 3:
            patients = patients.filter(search_text__startswith=words[0])
        else:
            for word in words:
                patients = patients.filter(search_text__contains=word)
            # Same order, written so PostgreSQL cannot walk the name index and filter row by row
            # (with LIMIT it did, scanning 10,000+ rows for a common fragment): it uses the
            # trigram index and sorts the few matches. Measured 9.1 -> 3.9 ms mean (docs/benchmark.md).
            order = (Concat("family_name", Value("")), "given_name", "id")
    if fields:
        patients = patients.only(*fields)
    with planned_for_its_values():  # a prepared, generic plan cannot tell "mul" from "müllerová"
        return list(patients.order_by(*order)[:limit])


def patient_get(*, request: HttpRequest, patient_id: int, for_update: bool = False) -> Patient:
    """The patient ``patient_id`` of the active clinic; another clinic's answers 404.

    ``merged_into`` is not joined: only a merged-away record (rare) needs it, and reading it
    then costs one query, where the join cost every page about 0.6 ms to build (a second
    36-column select list).
    """
    if not for_update and isinstance(patient_id, int):
        found = _patient(clinic_id=request.clinic.pk, patient_id=patient_id)
        if not found:
            raise Http404("No such patient in this clinic.")
        return found[0]
    patients = Patient.objects.filter(clinic=request.clinic)
    if for_update:
        patients = patients.select_for_update(of=("self",))
    try:
        return patients.get(pk=patient_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient in this clinic.") from None


@compiled_read()
def _patient(clinic_id: int, patient_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=clinic_id, pk=patient_id)


IDENTIFIERS_SHOWN = 20  # a patient's numbers in other systems on the chart; more is an import gone wrong


@compiled_read(limit=IDENTIFIERS_SHOWN)
def patient_identifiers(clinic_id: int, patient_id: int) -> QuerySet[ExternalIdentifier]:
    """The patient's numbers in other systems (a hospital's MRN, an insurer's), by system."""
    return ExternalIdentifier.objects.filter(clinic_id=clinic_id, patient_id=patient_id).order_by(
        "system", "value", "id"
    )


def patient_identifier_list(*, clinic_id: int, patient_id: int, limit: int = 200) -> list[ExternalIdentifier]:
    """Every number of the patient's, with who entered it (none for an import), for its own page."""
    rows = ExternalIdentifier.objects.filter(clinic_id=clinic_id, patient_id=patient_id).select_related("created_by")
    return list(rows.order_by("system", "value", "id")[:limit])


def patients_recent(*, clinic_id: int, limit: int = 10) -> list[Patient]:
    return list(Patient.objects.filter(clinic_id=clinic_id, is_active=True).order_by("-updated_at")[:limit])


# What the chart's record history shows of an event (the rest of its 12 columns stay unread).
HISTORY_LIMIT = 15
HISTORY_FIELDS = ("id", "created_at", "action", "changes", "actor_label", "actor_id", "actor__id", "actor__full_name")


def patient_history(*, clinic_id: int, patient_id: int, limit: int = HISTORY_LIMIT) -> list[AuditEvent]:
    """The latest changes to the record (not views), newest first, for the chart.

    Only the columns the chart shows: a smaller select list is cheaper to build and read.
    """
    return _history(clinic_id=clinic_id, patient_id=patient_id, limit=limit)


@compiled_read(limit=HISTORY_LIMIT)
def _history(clinic_id: int, patient_id: int) -> QuerySet[AuditEvent]:
    return (
        AuditEvent.objects.filter(clinic_id=clinic_id, object_type="patients.patient", object_id=str(patient_id))
        .exclude(action="patient.view")
        .select_related("actor")
        .only(*HISTORY_FIELDS)
        .order_by("-created_at", "-id")
    )
