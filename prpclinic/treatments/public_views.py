"""Public information pages: what each treatment is, written from the clinic's own catalogue.

No sign-in and no patient data: only the clinic's name, its treatments' patient-facing text and
schedule facts from the current protocol. Unknown or inactive clinic, or a treatment the clinic
does not offer: 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from prpclinic.clinics.models import Clinic
from prpclinic.treatments import selectors


def _clinic(slug: str) -> Clinic:
    clinic = Clinic.objects.filter(slug=slug, is_active=True).first()
    if clinic is None:
        raise Http404("No such clinic.")
    return clinic


def screening_url(slug: str, kind: str) -> str:
    """The pre-visit questionnaire (intake app) by its URL name, or its agreed path."""
    try:
        return reverse("intake_public_questionnaire", kwargs={"slug": slug, "kind": kind})
    except NoReverseMatch:
        return f"/info/{slug}/{kind}/screening/"


@require_GET
def clinic_info(request: HttpRequest, slug: str) -> HttpResponse:
    clinic = _clinic(slug)
    treatments = selectors.public_treatments(clinic=clinic)
    return render(request, "treatments/public/clinic.html", {"clinic": clinic, "treatments": treatments})


@require_GET
def treatment_info(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    clinic = _clinic(slug)
    treatments = selectors.public_treatments(clinic=clinic)
    treatment = next((t for t in treatments if t.kind == kind), None)
    if treatment is None:
        raise Http404("This clinic does not offer this treatment.")
    return render(
        request,
        "treatments/public/treatment.html",
        {
            "clinic": clinic,
            "treatment": treatment,
            "protocol": treatment.current,
            "schedule": selectors.schedule_facts(treatment.current),
            "others": [t for t in treatments if t.kind != kind],
            "screening_url": screening_url(clinic.slug, kind),
        },
    )
