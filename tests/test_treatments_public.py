"""The clinic's public information pages: no sign-in, written from the catalogue, no patient data."""

from __future__ import annotations

from typing import Any

from django.test import Client

from prpclinic.treatments.models import Treatment
from prpclinic.treatments.services import seed_catalogue
from tests.conftest import Personas, make_patient


def test_an_anonymous_visitor_reads_the_clinics_treatments_and_their_schedule(personas: Personas) -> None:
    client = Client()
    listing = client.get("/info/clinic-a/")
    page = client.get("/info/clinic-a/microneedling_prp/")
    assert listing.status_code == 200 and page.status_code == 200
    for name in ("Micro-needling with PRP", "PRP for hair loss", "Mesotherapy"):
        assert name in listing.content.decode()
    text = page.content.decode()
    assert "collagen" in text
    assert "A course is planned as 3 sessions, about 30 days apart." in text
    assert 'href="/info/clinic-a/microneedling_prp/screening/"' in text
    assert "Sign out" not in text and "sessionid" not in page.cookies


def test_the_mesotherapy_page_compares_it_with_prp(personas: Personas) -> None:
    text = Client().get("/info/clinic-a/mesotherapy/").content.decode()
    assert "How it differs from PRP" in text
    assert "middle layer of the skin" in text
    assert "about 1 week apart" in text


def test_editing_the_catalogue_text_changes_the_public_page(personas: Personas, signed_in: Any) -> None:
    seed_catalogue(clinic=personas.clinic_a)
    treatment = Treatment.objects.get(clinic=personas.clinic_a, kind="prp_scalp")
    response = signed_in("physician").post(
        f"/treatments/{treatment.pk}/text/",
        {
            "name": "PRP for thinning hair",
            "summary": "Our own words.",
            "patient_text": "Three steps.\n\nBook a talk.",
            "is_offered": "on",
        },
    )
    assert response.status_code == 302
    text = Client().get("/info/clinic-a/prp_scalp/").content.decode()
    assert "<h1>PRP for thinning hair</h1>" in text
    assert "<p>Three steps.</p>" in text and "<p>Book a talk.</p>" in text


def test_a_treatment_the_clinic_does_not_offer_is_not_shown(personas: Personas) -> None:
    seed_catalogue(clinic=personas.clinic_a)
    Treatment.objects.filter(clinic=personas.clinic_a, kind="mesotherapy").update(is_offered=False)
    client = Client()
    assert client.get("/info/clinic-a/mesotherapy/").status_code == 404
    assert "Mesotherapy" not in client.get("/info/clinic-a/").content.decode()


def test_an_unknown_or_inactive_clinic_answers_404(personas: Personas) -> None:
    personas.clinic_b.is_active = False
    personas.clinic_b.save()
    client = Client()
    assert client.get("/info/no-such-clinic/").status_code == 404
    assert client.get("/info/no-such-clinic/prp_scalp/").status_code == 404
    assert client.get("/info/clinic-b/").status_code == 404
    assert client.get("/info/clinic-a/no_such_kind/").status_code == 404


def test_the_public_pages_show_no_patient_data(personas: Personas) -> None:
    make_patient(personas.clinic_a, given_name="Zelda", family_name="Quorn", mrn="A777777")
    client = Client()
    for url in ("/info/clinic-a/", "/info/clinic-a/prp_scalp/"):
        text = client.get(url).content.decode()
        assert "Zelda" not in text and "Quorn" not in text and "A777777" not in text


def test_the_public_pages_carry_no_inline_script_or_style(personas: Personas) -> None:
    text = Client().get("/info/clinic-a/microneedling_prp/").content.decode()
    assert "<script" not in text and "style=" not in text and "<style" not in text
