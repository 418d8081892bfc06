"""Personas and helpers shared by the suite.

Clinic A has an admin, a physician, a nurse and a front desk; clinic B has a physician.
Every permission test falls out of these six (with the anonymous visitor).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import TWO_FACTOR_REQUIRED, Role
from prpclinic.patients.models import Patient

PASSWORD = "correct horse battery staple 42"

# Playwright runs an event loop in the test's thread; Django's ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True, scope="session")
def _media_in_a_scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Signed consents, photos and other files go to a folder of this run (one per xdist worker),
    never into the developer's var/media. override_settings resets the storages it caches."""
    from django.test import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL)"))
        if "browser" in item.keywords:
            # One worker runs all browser tests: two Chromiums at once on two cores is slower.
            item.add_marker(pytest.mark.xdist_group("browser"))


@dataclass
class Personas:
    clinic_a: Clinic
    clinic_b: Clinic
    admin: User
    physician: User
    nurse: User
    front_desk: User
    other_physician: User

    def by_name(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


def make_user(email: str, name: str, clinic: Clinic, role: str) -> User:
    user = User.objects.create_user(email, PASSWORD, full_name=name)
    Membership.objects.create(clinic=clinic, user=user, role=role)
    if role in TWO_FACTOR_REQUIRED:
        TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


@pytest.fixture
def personas(db: Any) -> Personas:
    clinic_a = Clinic.objects.create(name="Clinic A", slug="clinic-a", mrn_prefix="A", timezone="Europe/Vienna")
    clinic_b = Clinic.objects.create(name="Clinic B", slug="clinic-b", mrn_prefix="B", timezone="Europe/Vienna")
    return Personas(
        clinic_a=clinic_a,
        clinic_b=clinic_b,
        admin=make_user("admin@a.test", "Ada Admin", clinic_a, Role.CLINIC_ADMIN),
        physician=make_user("physician@a.test", "Phil Physician", clinic_a, Role.PHYSICIAN),
        nurse=make_user("nurse@a.test", "Nina Nurse", clinic_a, Role.NURSE),
        front_desk=make_user("desk@a.test", "Fred Desk", clinic_a, Role.FRONT_DESK),
        other_physician=make_user("physician@b.test", "Bea B-Physician", clinic_b, Role.PHYSICIAN),
    )


def sign_in(client: Client, user: User) -> Client:
    """A fully signed-in session, second factor included, as after the real login flow."""
    client.force_login(user)
    session = client.session
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session["mfa"] = "done"
    session.save()
    return client


@pytest.fixture
def signed_in(personas: Personas) -> Any:
    """``signed_in("nurse")`` -> a Client signed in as that persona (``"anonymous"`` -> none)."""

    def make(name: str) -> Client:
        client = Client()
        user = personas.by_name(name)
        return sign_in(client, user) if user is not None else client

    return make


def make_patient(clinic: Clinic, **fields: Any) -> Patient:
    n = Patient.objects.filter(clinic=clinic).count() + 1
    values: dict[str, Any] = {
        "mrn": f"{clinic.mrn_prefix}{n:06d}",
        "given_name": "Anna",
        "family_name": "Berger",
        "date_of_birth": dt.date(1985, 4, 30),
        "sex": "female",
        "allergies": "Lidocaine",
    }
    values.update(fields)
    patient = Patient(clinic=clinic, **values)
    patient.full_clean()
    patient.save()
    return patient


def clinic_request(user: User, clinic: Clinic, method: str = "post") -> Any:
    """A request as the views build it, for calling services directly."""
    request = getattr(RequestFactory(), method)("/")
    request.user = user
    request.clinic = clinic
    request.membership = Membership.objects.get(user=user, clinic=clinic)
    request.session = {}
    return request


@pytest.fixture
def production_env() -> dict[str, str]:
    """Environment of a production start: DEBUG off, secrets set, PostgreSQL, real mail."""
    env = {k: v for k, v in os.environ.items() if k not in ("PRPCLINIC_TESTING", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        DJANGO_SETTINGS_MODULE="prpclinic.settings",
        SECRET_KEY="production-like-secret-key-" + "x" * 40,
        AUDIT_HMAC_KEY="production-like-audit-key-" + "y" * 40,
        DATABASE_URL="postgres://prpclinic@db.internal:5432/prpclinic",
        ALLOWED_HOSTS="clinic.example.org",
        EMAIL_URL="smtp+tls://mailer:secret@mail.example.org:587",
    )
    return env


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Chain:
    """A clinic ready to make PRP: a centrifuge with a two-spin program, lots, a patient's visit."""

    centrifuge: Any
    program: Any
    tube_lot: Any
    kit_lot: Any
    patient: Patient
    visit: Any


@dataclass
class Lab:
    """A clinic's PRP equipment: a centrifuge with a two-spin program, a tube lot and a kit lot."""

    centrifuge: Any
    program: Any
    tube_lot: Any
    kit_lot: Any


def make_lab(clinic: Clinic) -> Lab:
    from decimal import Decimal

    from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram

    today = dt.date.today()
    centrifuge = Centrifuge.objects.create(
        clinic=clinic,
        name="Room 1",
        make="Hettich",
        model="EBA 200",
        serial_number="SN-1001",
        rotor_radius_cm=Decimal("8.6"),
        max_rpm=6000,
        calibration_due=today + dt.timedelta(days=90),
    )
    program = SpinProgram.objects.create(
        clinic=clinic,
        centrifuge=centrifuge,
        name="Double spin",
        spin1_rcf=200,
        spin1_rpm=1441,
        spin1_minutes=10,
        spin2_rcf=600,
        spin2_rpm=2496,
        spin2_minutes=10,
    )
    tube_lot = ConsumableLot.objects.create(
        clinic=clinic,
        kind="tube",
        product_name="Citrate tube 9 mL",
        lot_number="T-2026-01",
        expiry_date=today + dt.timedelta(days=200),
        tube_capacity_ml=Decimal("9"),
    )
    kit_lot = ConsumableLot.objects.create(
        clinic=clinic,
        kind="kit",
        product_name="PRP kit",
        lot_number="K-77",
        expiry_date=today + dt.timedelta(days=200),
        tube_capacity_ml=Decimal("10"),
    )
    return Lab(centrifuge, program, tube_lot, kit_lot)


@pytest.fixture
def chain(personas: Personas) -> Chain:
    from prpclinic.visits.models import Visit

    clinic = personas.clinic_a
    lab = make_lab(clinic)
    patient = make_patient(clinic, given_name="Clara", family_name="Weber", mrn="A000100")
    visit = Visit.objects.create(clinic=clinic, patient=patient, treatment="prp_scalp", clinician=personas.physician)
    return Chain(lab.centrifuge, lab.program, lab.tube_lot, lab.kit_lot, patient, visit)


# The browser tests' Chromium, page and console-error fixtures (tests/browser.py). Imported last:
# that module imports PASSWORD from here.
from tests.browser import browser, console_errors, page  # noqa: E402, F401
