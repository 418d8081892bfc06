"""The clinic admin's audit page: filter events, export them as CSV (the export is audited too)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from prpclinic.audit.selectors import AuditFilter, audit_events
from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view
from prpclinic.clinics.models import User

PAGE_SIZE = 50
ACTIONS = [
    "login", "login.failed", "login.locked", "login.two_factor", "login.two_factor_failed", "logout",
    "patient.view", "patient.create", "patient.update", "patient.deactivate", "patient.reactivate",
    "patient.merge", "patient.merged_away", "staff.invite", "staff.role", "staff.deactivate",
    "staff.reactivate", "clinic.switch_in", "clinic.switch_out", "audit.export", "password.change",
    "password.reset", "two_factor.enrol",
]  # fmt: skip


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Anyone")
    action = forms.ChoiceField(choices=[("", "Any action")] + [(a, a) for a in ACTIONS], required=False)
    object_type = forms.CharField(max_length=40, required=False)
    object_id = forms.CharField(max_length=64, required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = User.objects.filter(memberships__clinic_id=clinic_id).order_by("full_name")

    def to_filter(self) -> AuditFilter:
        data = self.cleaned_data if self.is_valid() else {}
        actor = data.get("actor")
        return AuditFilter(
            actor_id=actor.pk if actor else None,
            action=data.get("action", ""),
            object_type=data.get("object_type", ""),
            object_id=data.get("object_id", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


@clinic_view("audit.view")
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, clinic_id=request.clinic.pk)
    page = max(1, int(request.GET["page"])) if request.GET.get("page", "").isdigit() else 1
    events = list(
        audit_events(clinic_id=request.clinic.pk, where=form.to_filter())[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1]
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "events": events[:PAGE_SIZE],
            "page": page,
            "has_next": len(events) > PAGE_SIZE,
            "query": query.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@clinic_view("audit.view")
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """All matching events as CSV, streamed row by row so memory stays flat."""
    form = AuditFilterForm(request.GET or None, clinic_id=request.clinic.pk)
    where = form.to_filter()
    audit_record(
        action="audit.export", request=request, object_type="audit.auditevent", changes={"filter": where.__dict__}
    )
    events = audit_events(clinic_id=request.clinic.pk, where=where)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(
            [
                "id",
                "time_utc",
                "actor",
                "role",
                "action",
                "object_type",
                "object_id",
                "source_ip",
                "changes",
                "seq",
                "hmac",
            ]
        )
        for event in events.iterator(chunk_size=2000):
            seal = getattr(event, "seal", None)
            yield writer.writerow(
                [
                    event.pk,
                    event.created_at.isoformat(),
                    event.actor_label,
                    event.role,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.source_ip or "",
                    _csv_safe(str(event.changes)),
                    seal.seq if seal else "",
                    seal.hmac if seal else "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection: a cell must not start with = + - @."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
