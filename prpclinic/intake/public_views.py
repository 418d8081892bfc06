"""The public pre-visit questionnaire: no login, usable on a phone, shows nothing back.

Abuse guards: CSRF stays on; the request body is size-limited; a honeypot field catches simple
bots (they see the thank-you page, nothing is stored); the service limits sends per sender and
per clinic and hour. Nothing the patient typed is logged or put in a URL.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from prpclinic.audit.services import client_ip
from prpclinic.clinics.models import Clinic
from prpclinic.forms import add_service_errors
from prpclinic.intake import services
from prpclinic.intake.forms import PublicQuestionnaireForm
from prpclinic.visits.models import TreatmentKind

# The whole form is well under 10 kB; anything far bigger is not a patient typing.
MAX_BODY_BYTES = 32_000


def _clinic_and_kind(slug: str, kind: str) -> tuple[Clinic, str]:
    if kind not in TreatmentKind.values:
        raise Http404("No such treatment.")
    clinic = get_object_or_404(Clinic, slug=slug, is_active=True)
    # "Today" (future dates, drug windows) is the clinic's day, as on the staff pages.
    timezone.activate(zoneinfo.ZoneInfo(clinic.timezone))
    return clinic, kind


@never_cache
@require_http_methods(["GET", "POST"])
def public_questionnaire(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    clinic, treatment = _clinic_and_kind(slug, kind)
    context = {"clinic": clinic, "treatment_label": TreatmentKind(treatment).label}
    if request.method == "POST" and int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
        return render(request, "intake/public_form.html", context | {"too_big": True}, status=413)
    form = PublicQuestionnaireForm(request.POST if request.method == "POST" else None, treatment=treatment)
    if request.method == "POST":
        if form.is_bot():
            return redirect("intake_public_thanks", slug=clinic.slug, kind=treatment)
        if form.is_valid():
            try:
                services.submission_receive(
                    clinic=clinic,
                    treatment=treatment,
                    person=form.person(),
                    answers=form.answers(),
                    address=client_ip(request),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("intake_public_thanks", slug=clinic.slug, kind=treatment)
    return render(request, "intake/public_form.html", context | {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET"])
def public_thanks(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    clinic, _ = _clinic_and_kind(slug, kind)
    return render(request, "intake/public_thanks.html", {"clinic": clinic})
