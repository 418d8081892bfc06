"""Clinic admins invite staff, change roles and deactivate them; people switch clinics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Membership, User
from prpclinic.clinics.roles import Role
from tests.conftest import Personas, sign_in


def test_admin_invites_a_new_nurse_who_sets_a_password_by_email(
    personas: Personas, signed_in: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin = signed_in("admin")
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail leaves after commit
        response = admin.post("/staff/", {"full_name": "Olga New", "email": "Olga@A.test", "role": Role.NURSE})
    assert response.status_code == 302
    user = User.objects.get(email="olga@a.test")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.NURSE
    assert mail.outbox[0].to == ["olga@a.test"] and "Clinic A" in mail.outbox[0].subject
    link = re.search(r"http://testserver(/account/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    client = Client()
    page = client.get(link.group(1), follow=True)
    password = "olga chooses a long one 9"
    client.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert client.post("/account/login/", {"username": "olga@a.test", "password": password}).url == "/"
    assert AuditEvent.objects.filter(action="staff.invite", clinic=personas.clinic_a).exists()


def test_a_physician_of_clinic_b_invited_to_clinic_a_keeps_one_account(personas: Personas, signed_in: Any) -> None:
    signed_in("admin").post(
        "/staff/", {"full_name": "Bea", "email": personas.other_physician.email, "role": Role.PHYSICIAN}
    )
    assert User.objects.filter(email=personas.other_physician.email).count() == 1
    assert set(personas.other_physician.memberships.values_list("clinic__slug", flat=True)) == {"clinic-a", "clinic-b"}


def test_inviting_someone_already_working_here_is_refused(personas: Personas, signed_in: Any) -> None:
    response = signed_in("admin").post("/staff/", {"full_name": "N", "email": personas.nurse.email, "role": Role.NURSE})
    assert response.status_code == 400
    assert "already works at this clinic" in response.content.decode()


def test_changing_a_role_changes_what_the_person_may_open(personas: Personas, signed_in: Any) -> None:
    nurse = signed_in("nurse")
    assert nurse.get("/patients/").status_code == 200
    membership = Membership.objects.get(user=personas.nurse)
    signed_in("admin").post(f"/staff/{membership.pk}/role/", {"role": Role.CLINIC_ADMIN})
    membership.refresh_from_db()
    assert membership.role == Role.CLINIC_ADMIN
    # The role change ended the nurse's sessions: a new role may need two-factor sign-in.
    assert nurse.get("/patients/").status_code == 302
    event = AuditEvent.objects.get(action="staff.role")
    assert event.changes == {"role": ["nurse", "clinic_admin"]}


def test_deactivating_a_user_ends_their_sessions_and_blocks_sign_in(personas: Personas, signed_in: Any) -> None:
    nurse = signed_in("nurse")
    membership = Membership.objects.get(user=personas.nurse)
    response = signed_in("admin").post(f"/staff/{membership.pk}/deactivate/")
    assert response.status_code == 302
    assert nurse.get("/patients/").status_code == 302
    personas.nurse.refresh_from_db()
    assert personas.nurse.is_active is False
    fresh = Client()
    fresh.post("/account/login/", {"username": personas.nurse.email, "password": "correct horse battery staple 42"})
    assert fresh.get("/patients/").status_code == 302
    assert AuditEvent.objects.filter(action="staff.deactivate", object_id=str(membership.pk)).exists()


def test_reactivating_gives_the_place_back(personas: Personas, signed_in: Any) -> None:
    admin = signed_in("admin")
    membership = Membership.objects.get(user=personas.nurse)
    admin.post(f"/staff/{membership.pk}/deactivate/")
    admin.post(f"/staff/{membership.pk}/reactivate/")
    membership.refresh_from_db()
    personas.nurse.refresh_from_db()
    assert membership.is_active and personas.nurse.is_active


def test_the_last_clinic_admin_cannot_be_demoted(personas: Personas, signed_in: Any) -> None:
    membership = Membership.objects.get(user=personas.admin)
    response = signed_in("admin").post(f"/staff/{membership.pk}/role/", {"role": Role.NURSE}, follow=True)
    assert "at least one active clinic admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.CLINIC_ADMIN


def test_nobody_deactivates_themselves(personas: Personas, signed_in: Any) -> None:
    membership = Membership.objects.get(user=personas.admin)
    assert signed_in("admin").post(f"/staff/{membership.pk}/deactivate/").status_code == 403


def test_deactivation_in_one_clinic_keeps_the_account_for_the_other(personas: Personas, signed_in: Any) -> None:
    Membership.objects.create(clinic=personas.clinic_a, user=personas.other_physician, role=Role.PHYSICIAN)
    membership = Membership.objects.get(user=personas.other_physician, clinic=personas.clinic_a)
    signed_in("admin").post(f"/staff/{membership.pk}/deactivate/")
    personas.other_physician.refresh_from_db()
    assert personas.other_physician.is_active
    client = sign_in(Client(), personas.other_physician)
    page = client.get("/").content.decode()
    assert "Clinic B" in page and "Clinic A" not in page


@pytest.fixture
def two_clinic_physician(personas: Personas) -> Client:
    Membership.objects.create(clinic=personas.clinic_b, user=personas.physician, role=Role.PHYSICIAN)
    return sign_in(Client(), personas.physician)


def test_a_person_at_two_clinics_switches_and_every_page_shows_the_active_one(
    personas: Personas, two_clinic_physician: Client
) -> None:
    client = two_clinic_physician
    for url in ("/", "/patients/", "/account/"):
        assert 'data-testid="active-clinic"' in client.get(url).content.decode()
    assert '<span class="clinic-name">Clinic A</span>' in client.get("/patients/").content.decode()
    response = client.post("/account/switch-clinic/", {"clinic_id": personas.clinic_b.pk})
    assert response.status_code == 302
    assert '<span class="clinic-name">Clinic B</span>' in client.get("/patients/").content.decode()
    assert AuditEvent.objects.filter(action="clinic.switch_in", clinic=personas.clinic_b).exists()
    assert AuditEvent.objects.filter(action="clinic.switch_out", clinic=personas.clinic_a).exists()


def test_switching_to_a_clinic_one_does_not_work_at_answers_404(personas: Personas, signed_in: Any) -> None:
    assert signed_in("nurse").post("/account/switch-clinic/", {"clinic_id": personas.clinic_b.pk}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_in_production_the_invitation_mail_waits_for_the_worker(personas: Personas, settings: Any) -> None:
    """The e-mail is a database task: nothing leaves until `prpclinic db_worker` runs it."""
    from django.core.management import call_command

    # django-tasks resets its backends when the TASKS setting changes (setting_changed).
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    admin = sign_in(Client(), personas.admin)
    admin.post("/staff/", {"full_name": "Wendy Worker", "email": "wendy@a.test", "role": Role.NURSE})
    assert mail.outbox == []
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert [m.to for m in mail.outbox] == [["wendy@a.test"]]


def test_a_new_install_gets_its_first_clinic_and_admin_from_the_command(db: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "create_clinic", name="Lake Clinic", slug="lake", timezone="Europe/Vienna", admin_email="Boss@Lake.test",
        admin_name="Bo Boss", stdout=out,
    )  # fmt: skip
    membership = Membership.objects.get(user__email="boss@lake.test")
    assert (membership.clinic.name, membership.role) == ("Lake Clinic", Role.CLINIC_ADMIN)
    assert AuditEvent.objects.filter(action="clinic.create", clinic=membership.clinic).exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="timezone"):
        call_command("create_clinic", name="X", slug="x", timezone="Mars/Olympus", admin_email="a@b.c", admin_name="A")


def test_the_password_reset_mail_goes_through_the_task_queue(personas: Personas) -> None:
    Client().post("/account/password-reset/", {"email": personas.nurse.email})
    assert [m.to for m in mail.outbox] == [[personas.nurse.email]]
    assert "Reset your prpclinic password" in mail.outbox[0].subject
