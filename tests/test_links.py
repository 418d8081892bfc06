"""Links by name and ids ({% link %}, prpclinic.links.address) are what reverse() gives, from a pattern
worked out once per process, and still follow the script prefix a page is served under."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template
from django.urls import clear_script_prefix, reverse, set_script_prefix

from prpclinic.links import address
from tests.conftest import Chain, Personas


def test_every_page_shows_the_navigation_links_of_the_role(personas: Personas, signed_in: Any) -> None:
    page = signed_in("nurse").get("/patients/").content.decode()
    assert 'href="/patients/"' in page and 'href="/account/"' in page
    assert 'href="/staff/"' not in signed_in("nurse").get("/").content.decode()  # a nurse does not manage staff
    assert 'href="/staff/"' in signed_in("admin").get("/").content.decode()


def test_the_chart_links_to_the_patients_own_pages(personas: Personas, signed_in: Any, chain: Chain) -> None:
    page = signed_in("admin").get(f"/patients/{chain.patient.pk}/").content.decode()
    for name in ("patient_edit", "patient_merge", "aftercare_timeline", "scheduling_book"):
        assert f'"{reverse(name, args=[chain.patient.pk])}"' in page, name
    assert f'"{reverse("visit_detail", args=[chain.visit.pk])}"' in page


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("patient_list", ()),
        ("patient_chart", (7,)),
        ("patient_edit", (1234567,)),
        ("visit_detail", (3,)),
        ("intake_new", (5, "prp_scalp")),  # an id and a code
        ("consent_sign", (5, "photography")),
        ("outcome_photo_file", (12, "thumb")),  # a code its pattern lists
        ("outcome_photo_file", (12, "full")),
    ],
)
def test_an_address_is_what_reverse_gives(name: str, ids: tuple[int | str, ...]) -> None:
    assert address(name, *ids) == reverse(name, args=ids)


def test_an_address_takes_whole_numbers_only() -> None:
    with pytest.raises(TypeError, match="whole numbers"):
        address("patient_chart", "7/../../staff")  # type: ignore[arg-type]


def test_a_cached_address_follows_the_script_prefix_it_is_served_under() -> None:
    template = Template("{% load links %}{% link 'patient_list' %} {% link 'patient_chart' 5 %}")
    try:
        set_script_prefix("/vienna/")
        assert template.render(Context()) == "/vienna/patients/ /vienna/patients/5/"
        set_script_prefix("/graz/")
        assert template.render(Context()) == "/graz/patients/ /graz/patients/5/"
    finally:
        clear_script_prefix()
    assert template.render(Context()) == "/patients/ /patients/5/"


def test_a_code_is_refused_unless_it_looks_like_one_and_its_pattern_takes_it() -> None:
    from django.urls import NoReverseMatch

    with pytest.raises(TypeError, match="codes are letters"):
        address("intake_new", 5, "prp scalp")
    with pytest.raises(TypeError, match="codes are letters"):
        address("intake_new", 5, "")
    with pytest.raises(NoReverseMatch):  # the pattern lists full, thumb and outline only
        address("outcome_photo_file", 12, "huge")
