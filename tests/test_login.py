"""Signing in: passwords, lockout, two-factor, session lifetimes, logout, password reset."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import Role
from tests.conftest import PASSWORD, Personas, make_user


def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post("/account/login/", {"username": email, "password": password})


def current_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.parametrize(
    "password",
    ["short1!", "password123456", "123456789012345", "1q2w3e4r5t6y7u8i9o0p"],
    ids=["short", "common", "numeric", "common-keyboard"],
)
def test_short_and_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_is_accepted() -> None:
    validate_password("plasma centrifuge at dawn 2026")


def test_password_change_page_refuses_a_common_password(personas: Personas, signed_in: Any) -> None:
    response = signed_in("nurse").post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "password123456", "new_password2": "password123456"},
    )
    assert "This password is too common." in response.content.decode()
    personas.nurse.refresh_from_db()
    assert personas.nurse.check_password(PASSWORD)


def test_nurse_without_authenticator_signs_in_with_password_only(personas: Personas) -> None:
    client = Client()
    response = login(client, personas.nurse.email)
    assert response.status_code == 302 and response.url == "/"
    assert "Clinic A" in client.get("/").content.decode()


def test_a_new_session_key_is_issued_at_login(personas: Personas) -> None:
    client = Client()
    client.get("/account/login/")
    client.cookies["sessionid"] = "attacker-chosen-session-key-0123"
    login(client, personas.nurse.email)
    assert client.cookies["sessionid"].value != "attacker-chosen-session-key-0123"


def test_physician_must_give_the_second_factor_before_any_page(personas: Personas) -> None:
    client = Client()
    response = login(client, personas.physician.email)
    assert response.status_code == 302
    assert client.get("/patients/").url == "/account/two-factor/"
    response = client.post(
        "/account/two-factor/", {"token": "000000" if current_code(personas.physician) != "000000" else "111111"}
    )
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    time.sleep(1.1)  # django-otp refuses every code for 1 s after a failure (then 2 s, 4 s, ...)
    response = client.post("/account/two-factor/", {"token": current_code(personas.physician)})
    assert response.status_code == 302
    assert client.get("/patients/").status_code == 200
    actions = list(AuditEvent.objects.filter(actor=personas.physician).values_list("action", flat=True).order_by("id"))
    assert actions == ["login", "login.two_factor_failed", "login.two_factor"]


def test_clinic_admin_without_authenticator_must_enrol_one(personas: Personas) -> None:
    admin = User.objects.create_user("newadmin@a.test", PASSWORD, full_name="New Admin")
    Membership.objects.create(clinic=personas.clinic_a, user=admin, role=Role.CLINIC_ADMIN)
    client = Client()
    login(client, admin.email)
    assert client.get("/").url == "/account/two-factor/setup/"
    page = client.get("/account/two-factor/setup/").content.decode()
    assert "<svg" in page
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
    assert secret is not None
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    response = client.post("/account/two-factor/setup/", {"token": code})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).count() == 1
    assert client.get("/staff/").status_code == 200


def test_nurse_may_enrol_two_factor_voluntarily_and_then_needs_it(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    client.get("/account/two-factor/setup/")
    device = TOTPDevice.objects.get(user=personas.nurse, confirmed=False)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post("/account/two-factor/setup/", {"token": code}).status_code == 302
    fresh = Client()
    login(fresh, personas.nurse.email)
    assert fresh.get("/").url == "/account/two-factor/"


def test_repeated_failures_lock_the_account_even_for_the_right_password(personas: Personas, settings: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, personas.nurse.email, "wrong password here")
        assert response.status_code in (200, 429)
    response = login(client, personas.nurse.email)
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert client.get("/patients/").status_code == 302
    failed = AuditEvent.objects.filter(action="login.failed", actor=personas.nurse).count()
    assert failed >= settings.AXES_FAILURE_LIMIT - 1
    assert AuditEvent.objects.filter(action="login.locked", actor=personas.nurse).exists()


def test_failed_login_of_an_unknown_name_is_audited_in_the_global_chain(db: Any) -> None:
    login(Client(), "nobody@nowhere.test", "whatever it is")
    event = AuditEvent.objects.get(action="login.failed")
    assert (event.clinic_id, event.chain_key, event.changes) == (None, "global", {"attempted": "nobody@nowhere.test"})


def _age_session(client: Client, **shift: int) -> None:
    session = client.session
    for key, seconds in shift.items():
        session[key] = int(time.time()) - seconds
    session.save()


def test_session_ends_after_the_idle_timeout(personas: Personas, signed_in: Any, settings: Any) -> None:
    client = signed_in("nurse")
    assert client.get("/patients/").status_code == 200
    _age_session(client, last_seen=settings.SESSION_IDLE_SECONDS + 5)
    response = client.get("/patients/")
    assert response.status_code == 302 and response.url == "/account/login/"
    assert client.get("/patients/").status_code == 302
    assert AuditEvent.objects.filter(action="logout", changes__reason="idle").exists()


def test_session_ends_at_its_absolute_lifetime_even_when_active(
    personas: Personas, signed_in: Any, settings: Any
) -> None:
    client = signed_in("nurse")
    _age_session(client, login_at=settings.SESSION_MAX_SECONDS + 5, last_seen=1)
    assert client.get("/patients/").url == "/account/login/"


def test_idle_timeout_is_configurable(personas: Personas, signed_in: Any, settings: Any) -> None:
    settings.SESSION_IDLE_SECONDS = 3600
    client = signed_in("nurse")
    _age_session(client, last_seen=1800)
    assert client.get("/patients/").status_code == 200


def test_logout_ends_the_session_on_the_server(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    key = client.session.session_key
    assert client.post("/account/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert AuditEvent.objects.filter(action="logout", actor=personas.nurse).exists()


def test_password_reset_by_email_sets_a_new_password(personas: Personas) -> None:
    client = Client()
    response = client.post("/account/password-reset/", {"email": personas.nurse.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [personas.nurse.email]
    link = re.search(r"http://testserver(/account/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    new = "a fresh plasma password 77"
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    personas.nurse.refresh_from_db()
    assert personas.nurse.check_password(new)
    assert AuditEvent.objects.filter(action="password.reset", actor=personas.nurse).exists()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(db: Any) -> None:
    response = Client().post("/account/password-reset/", {"email": "nobody@nowhere.test"}, follow=True)
    assert "If an account uses that address" in response.content.decode()
    assert mail.outbox == []


def test_production_settings_hash_passwords_with_argon2(production_env: dict[str, str]) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "prpclinic.cli",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])",
        ],
        env=production_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_argon2_hashes_and_checks_a_password(db: Any, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = make_user("argon@a.test", "Argon User", Clinic.objects.create(name="X", slug="x"), Role.NURSE)
    user.set_password("plasma centrifuge at dawn 2026")
    assert user.password.startswith("argon2$")
    assert user.check_password("plasma centrifuge at dawn 2026")


def test_each_signed_in_page_reads_the_user_with_their_clinics_in_one_statement(
    personas: Personas, signed_in: Any
) -> None:
    """Session, then user and memberships together: the floor every signed-in page pays."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in("nurse")
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/patients/").content.decode()
    people = [q["sql"] for q in ctx.captured_queries if '"clinics_user"' in q["sql"]]
    assert len(people) == 1 and 'FROM "clinics_membership"' in people[0], people
    assert personas.clinic_a.name in page  # the active clinic shows, from that one statement


def test_a_user_whose_last_clinic_ended_still_signs_in_and_sees_no_clinic(personas: Personas) -> None:
    """No active membership: the user is read on their own, signs in, and reaches no clinic's data."""
    Membership.objects.filter(user=personas.nurse).update(is_active=False)
    client = Client()
    response = client.post("/account/login/", {"username": personas.nurse.email, "password": PASSWORD}, follow=True)
    assert response.wsgi_request.user.is_authenticated
    page = client.get("/patients/")
    assert page.status_code == 403 and "Not allowed" in page.content.decode()
