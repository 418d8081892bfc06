"""``prpclinic demo``: load a fictional demo clinic, the first time only.

One account per role (the physician also works at a second clinic, to show switching) and 30
fictional patients. Refuses to run with DEBUG off: demo passwords are printed in the clear.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import TWO_FACTOR_REQUIRED, Role
from prpclinic.patients.models import Patient, Sex, fold
from prpclinic.patients.services import next_mrn
from prpclinic.planner.rcf import rpm_from_rcf

DEMO_PASSWORD = "prp-demo-clinic-2026"  # noqa: S105  (demo only; the command refuses to run without DEBUG)
DEMO_DOMAIN = "demo.prpclinic.test"
DEMO_STAFF = [
    ("admin", "Alma Admin", Role.CLINIC_ADMIN),
    ("physician", "Dr. Paula Physician", Role.PHYSICIAN),
    ("nurse", "Nils Nurse", Role.NURSE),
    ("frontdesk", "Frida Frontdesk", Role.FRONT_DESK),
]
GIVEN_F = [
    "Anna",
    "Maria",
    "Sofia",
    "Lena",
    "Clara",
    "Emma",
    "Julia",
    "Nora",
    "Ines",
    "Zoë",
    "Hanna",
    "Leonie",
    "Amélie",
    "Yara",
    "Mia",
]
GIVEN_M = [
    "Jonas",
    "Lukas",
    "David",
    "Elias",
    "Felix",
    "Noah",
    "Paul",
    "Tobias",
    "Matteo",
    "Ömer",
    "Karim",
    "Jan",
    "Leon",
    "Finn",
    "Ben",
]
FAMILY = [
    "Müller",
    "Schmidt",
    "Novak",
    "Horvat",
    "Rossi",
    "Berger",
    "Fischer",
    "Weber",
    "Kovač",
    "Dubois",
    "Lindqvist",
    "O'Brien",
    "García",
    "Nowak",
    "Yılmaz",
    "Hofer",
    "Bauer",
    "Wagner",
    "Petrović",
    "Jensen",
]


def demo_email(handle: str) -> str:
    return f"{handle}@{DEMO_DOMAIN}"


class Command(BaseCommand):
    help = "Load the demo clinic (once) and print how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo prints its passwords; it runs only with DEBUG=1.")
        if Clinic.objects.filter(slug="linden").exists():
            self.stdout.write("Demo clinic already loaded; keeping its data.")
        else:
            self._load()
            self.stdout.write(
                self.style.SUCCESS("Demo clinic loaded: 4 staff, 30 patients, a centrifuge, lots, PRP spinning.")
            )
        self._print_sign_in()

    @transaction.atomic
    def _load(self) -> None:
        rng = random.Random(2026)
        clinic = Clinic.objects.create(
            name="Linden Skin & Hair Clinic", slug="linden", timezone="Europe/Vienna", mrn_prefix="L"
        )
        second = Clinic.objects.create(
            name="Riverside Hair Studio", slug="riverside", timezone="Europe/Vienna", mrn_prefix="R"
        )
        admin = None
        for handle, name, role in DEMO_STAFF:
            user = User.objects.create_user(demo_email(handle), DEMO_PASSWORD, full_name=name)
            Membership.objects.create(clinic=clinic, user=user, role=role)
            if role == Role.PHYSICIAN:
                Membership.objects.create(clinic=second, user=user, role=Role.PHYSICIAN)
            if role in TWO_FACTOR_REQUIRED:
                # Pre-enrolled so the demo needs no phone: `prpclinic demo_code` prints the code.
                TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
            admin = admin or user  # the first account, the clinic admin, "registers" the demo data
            audit_record(
                action="staff.invite", clinic=clinic, actor=admin, obj=user, changes={"role": role, "source": "demo"}
            )
        today = dt.date.today()
        for index in range(30):
            sex = Sex.FEMALE if index % 3 else Sex.MALE
            given = rng.choice(GIVEN_F if sex == Sex.FEMALE else GIVEN_M)
            born = today - dt.timedelta(days=rng.randint(19 * 365, 72 * 365))
            patient = Patient(
                clinic=clinic,
                mrn=next_mrn(clinic),
                given_name=given,
                family_name=rng.choice(FAMILY),
                date_of_birth=born,
                sex=sex,
                phone=f"+43 660 {rng.randint(1000000, 9999999)}",
                email=f"{fold(given)}.{index}@example.org",
                fitzpatrick_skin_type=rng.choice(["I", "II", "III", "IV", "V", "VI"]),
                allergies=rng.choice(["", "", "Lidocaine", "Latex", "Penicillin"]),
                current_medications=rng.choice(["", "", "Minoxidil 5 % topical", "Levothyroxine 50 µg"]),
            )
            patient.full_clean()
            patient.save()
            audit_record(action="patient.create", clinic=clinic, actor=admin, obj=patient, changes={"source": "demo"})
        self._load_prp(clinic)

    def _load_prp(self, clinic: Clinic) -> None:
        """A centrifuge with a program, lots, and one patient's PRP on today's board, spinning."""
        from django.test import RequestFactory

        from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram
        from prpclinic.prp.services import draw, spin
        from prpclinic.visits.models import Visit

        today = dt.date.today()
        nurse = User.objects.get(email=demo_email("nurse"))
        physician = User.objects.get(email=demo_email("physician"))
        device = Centrifuge.objects.create(
            clinic=clinic, name="Room 1 centrifuge", make="Demo", model="DC-1 (fictional)", serial_number="DEMO-0001",
            rotor_radius_cm=Decimal("8.6"), max_rpm=6000, tube_slots=8, calibration_due=today + dt.timedelta(days=120),
        )  # fmt: skip
        # Within the IADVL task force windows (PRP_REFERENCE.md §1): 1st spin 100-300 g for 5-10 min,
        # 2nd spin 400-700 g for 10-17 min.
        SpinProgram.objects.create(
            clinic=clinic, centrifuge=device, name="Double spin (IADVL window)", spin1_rcf=200,
            spin1_rpm=round(rpm_from_rcf(200, 8.6)), spin1_minutes=10, spin2_rcf=600,
            spin2_rpm=round(rpm_from_rcf(600, 8.6)), spin2_minutes=12,
        )  # fmt: skip
        tube_lot = ConsumableLot.objects.create(
            clinic=clinic, kind="tube", product_name="Citrate tube 9 mL (demo)", lot_number="DT-2026-11",
            expiry_date=today + dt.timedelta(days=300), tube_capacity_ml=Decimal(9),
        )  # fmt: skip
        kit_lot = ConsumableLot.objects.create(
            clinic=clinic, kind="kit", product_name="PRP kit (demo)", lot_number="DK-0042",
            expiry_date=today + dt.timedelta(days=200), tube_capacity_ml=Decimal(10),
        )  # fmt: skip
        patient = Patient.objects.filter(clinic=clinic).order_by("mrn").first()
        assert patient is not None
        visit = Visit.objects.create(clinic=clinic, patient=patient, treatment="prp_scalp", clinician=physician)
        request = RequestFactory().post("/")
        request.user, request.clinic, request.session = nurse, clinic, {}
        request.membership = Membership.objects.get(user=nurse, clinic=clinic)
        now = timezone.now()
        product = draw.blood_draw(
            request=request, visit_id=visit.pk, drawn_at=now - dt.timedelta(minutes=5), site="antecubital_left",
            volume_ml=Decimal(18), tube_count=2, tube_lot_id=tube_lot.pk, kit_lot_id=kit_lot.pk,
            anticoagulant="sodium_citrate_3_2", identity_check="confirmed", platelets_k_per_ul=Decimal(245),
            hematocrit_pct=Decimal(41),
        )  # fmt: skip
        spin.spin_start(
            request=request, product_id=product.pk, centrifuge_id=device.pk, rcf=200, minutes=10,
            started_at=now - dt.timedelta(minutes=2),
        )  # fmt: skip

    def _print_sign_in(self) -> None:
        port = __import__("os").environ.get("PORT", "8000")
        lines = [
            "",
            f"  prpclinic demo: open http://127.0.0.1:{port}/ and sign in with one of",
            *(f"    {demo_email(h):34} {label}" for h, _, label in [(h, n, r.label) for h, n, r in DEMO_STAFF]),
            f"  password for all: {DEMO_PASSWORD}",
            "  Clinic admin and physician also need a two-factor code; get the current one with",
            f"    DEBUG=1 .venv/bin/prpclinic demo_code {demo_email('physician')}",
            "",
        ]
        self.stdout.write("\n".join(lines))
