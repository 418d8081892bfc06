"""The navigation's addresses are worked out once per process ({% nav_url %}), and still follow the script prefix."""

from __future__ import annotations

from typing import Any

from django.template import Context, Template
from django.urls import clear_script_prefix, set_script_prefix

from tests.conftest import Personas


def test_every_page_shows_the_navigation_links_of_the_role(personas: Personas, signed_in: Any) -> None:
    page = signed_in("nurse").get("/patients/").content.decode()
    assert 'href="/patients/"' in page and 'href="/account/"' in page
    assert 'href="/staff/"' not in signed_in("nurse").get("/").content.decode()  # a nurse does not manage staff
    assert 'href="/staff/"' in signed_in("admin").get("/").content.decode()


def test_a_cached_address_follows_the_script_prefix_it_is_served_under() -> None:
    template = Template("{% load nav %}{% nav_url 'patient_list' %}")
    try:
        set_script_prefix("/vienna/")
        assert template.render(Context()) == "/vienna/patients/"
        set_script_prefix("/graz/")
        assert template.render(Context()) == "/graz/patients/"
    finally:
        clear_script_prefix()
    assert template.render(Context()) == "/patients/"
