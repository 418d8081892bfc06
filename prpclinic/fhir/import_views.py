"""Import pages (clinic admins, ``data.import``): a FHIR Bundle in one step; a CSV in three
(upload, map the columns with a preview, import). The uploaded CSV is kept in the storage under a
random name only while its import is being set up, and removed when imported or cancelled.

No patient data goes into a URL: the CSV's place is in the session, the mapping is posted.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.clinics.access import clinic_view
from prpclinic.clinics.models import Membership
from prpclinic.fhir import importing
from prpclinic.scheduling.selectors import CLINICAL_ROLES

SESSION_KEY = "fhir_csv_import"
NOT_MAPPED = ""


class BundleForm(forms.Form):
    file = forms.FileField(label="FHIR transaction Bundle (JSON)")
    clinician = forms.TypedChoiceField(
        label="Clinician for the imported appointments",
        coerce=int,
        required=False,
        empty_value=None,
        help_text="Other systems' appointments name practitioners prpclinic does not know; needed if there are any.",
    )

    def __init__(self, *args: Any, clinic: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = (
            Membership.objects.filter(clinic=clinic, is_active=True, role__in=CLINICAL_ROLES, user__is_active=True)
            .select_related("user")
            .order_by("user__full_name")
        )
        self.fields["clinician"].choices = [("", "(none)")] + [(m.user_id, m.user.get_full_name()) for m in members]


class CsvForm(forms.Form):
    file = forms.FileField(label="CSV of patients (first row: column headings)")


class MappingForm(forms.Form):
    """One select per patient field, choosing a column of the CSV (or none), the date format, and the system of
    the external identifier column (one system per file: a hospital's export carries its own numbers)."""

    date_format = forms.ChoiceField(label="Dates in the file are written", choices=list(importing.DATE_FORMATS.items()))
    identifier_system = forms.CharField(
        label="Identifier system (of the external identifier column)",
        required=False,
        max_length=255,
        strip=True,
        help_text="A URI naming who issued those numbers, e.g. https://hospital.example/mrn or urn:oid:1.2.3.4. "
        "A patient whose number in that system is known is updated instead of created again.",
    )

    def __init__(self, *args: Any, columns: list[str], clinic_slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic_slug = clinic_slug
        choices = [(NOT_MAPPED, "(not imported)")] + [(str(i), column) for i, column in enumerate(columns)]
        for name, label in importing.IMPORT_FIELDS.items():
            self.fields[name] = forms.ChoiceField(
                label=label, choices=choices, required=name in importing.REQUIRED_FIELDS
            )
        # The system next to its column, after the fields.
        self.order_fields([*(n for n in self.fields if n != "identifier_system"), "identifier_system"])

    def mapping(self) -> dict[str, int]:
        return {
            name: int(self.cleaned_data[name])
            for name in importing.IMPORT_FIELDS
            if self.cleaned_data.get(name) not in (None, NOT_MAPPED)
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        used: dict[str, str] = {}
        for name in importing.IMPORT_FIELDS:
            column = cleaned.get(name)
            if column in (None, NOT_MAPPED):
                continue
            if column in used:
                self.add_error(name, f"This column is already chosen for {importing.IMPORT_FIELDS[used[column]]}.")
            used[column] = name
        system = cleaned.get("identifier_system", "")
        if cleaned.get("external_id") not in (None, NOT_MAPPED):
            try:
                cleaned["identifier_system"] = importing.check_identifier_system(system, self.clinic_slug)
            except ValidationError as exc:
                self.add_error("identifier_system", exc)
        elif system:
            self.add_error("external_id", "Choose the column that holds these identifiers (or clear the system).")
        return cleaned


def _file_too_large(upload: Any, limit: int) -> bool:
    return upload.size > limit


def _page(
    request: HttpRequest, *, bundle_form: Any = None, csv_form: Any = None, status: int = 200, **extra: Any
) -> Any:
    return render(
        request,
        "fhir/import.html",
        {"bundle_form": bundle_form or BundleForm(clinic=request.clinic), "csv_form": csv_form or CsvForm(), **extra},
        status=status,
    )


@require_GET
@clinic_view("data.import")
def start(request: HttpRequest) -> HttpResponse:
    return _page(request, pending_csv=SESSION_KEY in request.session)


@require_http_methods(["GET", "POST"])
@clinic_view("data.import")
def bundle_import(request: HttpRequest) -> HttpResponse:
    """Upload a transaction Bundle: imported at once if every entry is accepted, else nothing and the report."""
    form = BundleForm(request.POST if request.method == "POST" else None, request.FILES or None, clinic=request.clinic)
    if request.method != "POST":
        return _page(request)
    if not form.is_valid():
        return _page(request, bundle_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        if _file_too_large(upload, importing.MAX_BUNDLE_BYTES):
            raise importing.ImportRefused(
                f"The file is larger than {importing.MAX_BUNDLE_BYTES // (1024 * 1024)} MB; split it."
            )
        bundle = importing.read_bundle(upload.read())
    except importing.ImportRefused as exc:
        form.add_error("file", str(exc))
        return _page(request, bundle_form=form, status=400)
    report = importing.import_bundle(request=request, bundle=bundle, clinician_id=form.cleaned_data["clinician"])
    return render(
        request,
        "fhir/import_report.html",
        {"report": report, "source": "FHIR Bundle"},
        status=200 if report.committed else 400,
    )


def _stored(request: HttpRequest) -> str | None:
    state = request.session.get(SESSION_KEY)
    return state.get("name") if isinstance(state, dict) else None


def _forget(request: HttpRequest) -> None:
    """Remove the uploaded CSV from the storage and the session."""
    name = _stored(request)
    if name and default_storage.exists(name):
        default_storage.delete(name)
    request.session.pop(SESSION_KEY, None)


@require_POST
@clinic_view("data.import")
def csv_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: the CSV is read once to check it, then kept under a random name for the mapping step."""
    form = CsvForm(request.POST, request.FILES or None)
    if not form.is_valid():
        return _page(request, csv_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        if _file_too_large(upload, importing.MAX_CSV_BYTES):
            raise importing.ImportRefused(
                f"The file is larger than {importing.MAX_CSV_BYTES // (1024 * 1024)} MB; split it."
            )
        raw = upload.read()
        importing.read_csv(raw)
    except importing.ImportRefused as exc:
        form.add_error("file", str(exc))
        return _page(request, csv_form=form, status=400)
    _forget(request)  # a CSV uploaded earlier and never imported
    name = default_storage.save(f"imports/{request.clinic.pk}/{secrets.token_hex(16)}.csv", ContentFile(raw))
    request.session[SESSION_KEY] = {"name": name, "clinic": request.clinic.pk}
    return redirect("fhir_import_csv_map")


def _table(request: HttpRequest) -> importing.CsvTable | None:
    state = request.session.get(SESSION_KEY)
    name = _stored(request)
    # The file belongs to the clinic it was uploaded in; after switching clinics it is not offered.
    if not name or state.get("clinic") != request.clinic.pk or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        return importing.read_csv(handle.read())


@require_http_methods(["GET", "POST"])
@clinic_view("data.import")
def csv_map(request: HttpRequest) -> HttpResponse:
    """Step 2 and 3: choose a column per field and preview the first rows; then import all rows."""
    table = _table(request)
    if table is None:
        return _page(request, status=404, missing_csv=True)
    if request.method == "POST":
        form = MappingForm(request.POST, columns=table.columns, clinic_slug=request.clinic.slug)
    else:
        form = MappingForm(
            initial={**importing.guess_mapping(table.columns)}, columns=table.columns, clinic_slug=request.clinic.slug
        )
    context: dict[str, Any] = {"form": form, "columns": table.columns, "rows": table.rows[: importing.PREVIEW_ROWS]}
    context["total_rows"] = len(table.rows)
    if request.method != "POST":
        return render(request, "fhir/import_csv_map.html", context)
    if not form.is_valid():
        return render(request, "fhir/import_csv_map.html", context, status=400)
    importing_all = request.POST.get("action") == "import"
    try:
        report = importing.import_csv(
            request=request,
            table=table,
            mapping=form.mapping(),
            date_format=form.cleaned_data["date_format"],
            identifier_system=form.cleaned_data.get("identifier_system", ""),
            rows=None if importing_all else range(min(importing.PREVIEW_ROWS, len(table.rows))),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "fhir/import_csv_map.html", context, status=400)
    if not importing_all:
        context["preview"] = report
        return render(request, "fhir/import_csv_map.html", context, status=200 if not report.refused else 400)
    if report.committed:
        _forget(request)
        return render(request, "fhir/import_report.html", {"report": report, "source": "CSV"})
    context["preview"] = report
    context["refused_all"] = True
    return render(request, "fhir/import_csv_map.html", context, status=400)


@require_POST
@clinic_view("data.import")
def csv_cancel(request: HttpRequest) -> HttpResponse:
    _forget(request)
    return redirect("fhir_import_start")
