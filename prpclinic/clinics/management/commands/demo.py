"""``prpclinic demo``: load a fictional demo clinic, the first time only.

One account per role (the physician also works at a second clinic, to show switching) and 30
fictional patients; then a day of the clinic recorded through the apps' own services (so the audit
trail, the chain of custody and every rule hold): screenings, signed consents, two treatment plans
whose first session was done today (PRP drawn, spun, checked at the bedside, applied and charted on
the face and scalp maps), an adverse event with a follow-up, aftercare handed out, hair density
scores and two drawn (not photographed) scalp pictures. Refuses to run with DEBUG off: demo
passwords are printed in the clear.

The services date what they record "now" (visits, consents, screenings, photos); only scores take
an earlier day. So the demo's clinical day is the day it is loaded.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import TWO_FACTOR_REQUIRED, Role
from prpclinic.patients.models import ExternalIdentifier, IdentifierSource, Patient, Sex, fold
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
GIVEN_F = ["Anna", "Maria", "Sofia", "Lena", "Clara", "Emma", "Julia", "Nora", "Ines", "Zoë", "Hanna", "Leonie",
           "Amélie", "Yara", "Mia"]  # fmt: skip
GIVEN_M = ["Jonas", "Lukas", "David", "Elias", "Felix", "Noah", "Paul", "Tobias", "Matteo", "Ömer", "Karim", "Jan",
           "Leon", "Finn", "Ben"]  # fmt: skip
FAMILY = ["Müller", "Schmidt", "Novak", "Horvat", "Rossi", "Berger", "Fischer", "Weber", "Kovač", "Dubois",
          "Lindqvist", "O'Brien", "García", "Nowak", "Yılmaz", "Hofer", "Bauer", "Wagner", "Petrović",
          "Jensen"]  # fmt: skip

# Fictional values of fictional patients (measurements and volumes as a nurse would record them),
# not clinical rules: the rules (depth ranges, passes, windows) are read from the clinic's catalogue.
DRAW = {"volume_ml": Decimal(18), "tube_count": 2, "platelets_k_per_ul": Decimal(245), "hematocrit_pct": Decimal(41)}
PREPARED = {"volume_ml": Decimal(3), "platelets_k_per_ul": Decimal(1050)}
FACE_PRP_ML = {"forehead": "0.6", "cheek_left": "0.7", "cheek_right": "0.7", "chin": "0.5"}
SCALP_PRP_ML = {"frontal": "1.0", "mid_scalp": "1.0", "vertex": "0.8"}
SCALP_INJECTIONS = {"frontal": 12, "mid_scalp": 12, "vertex": 10}
HAIR_DENSITY = [(14, "118.5"), (0, "119.0")]  # (days ago, hairs/cm²): a consultation, then session 1


def demo_email(handle: str) -> str:
    return f"{handle}@{DEMO_DOMAIN}"


def staff_request(user: User, clinic: Clinic) -> HttpRequest:
    """A request as the views build it (user, clinic, membership), so the services check roles and audit."""
    request = RequestFactory().post("/")
    request.user = user
    request.clinic = clinic
    request.membership = Membership.objects.get(user=user, clinic=clinic)
    request.session = {}
    return request


def screening_answers(treatment: str, **changed: Any) -> dict[str, Any]:
    """The questionnaire with every yes/no answered the way that fires no rule, no drugs and no labs."""
    from prpclinic.intake import rules

    answers: dict[str, Any] = {}
    for question in rules.questions_for(treatment):
        if question.kind == "yes_no":
            firing = {rule.fires_on for rule in rules.rules_for(treatment) if rule.question == question.key}
            answers[question.key] = not firing.pop()
        else:
            answers[question.key] = None
    return answers | changed


def signature_data_url(seed: int) -> str:
    """A small PNG of a scribbled line, as the tablet's signing box sends it."""
    from prpclinic.consents.signature import data_url

    image = Image.new("RGBA", (320, 100), (0, 0, 0, 0))
    points = [(12 + x * 6, 50 + 22 * math.sin(x / (3 + seed % 3)) * math.cos(x / 11)) for x in range(50)]
    ImageDraw.Draw(image).line(points, fill=(20, 20, 60, 255), width=3, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return data_url(buffer.getvalue())


def scalp_picture(seed: int, *, marks: bool) -> bytes:
    """A drawn scalp seen from above (no photograph, no face): an oval, hair strokes, a parting.

    ``marks``: the same picture with small injection marks, as after a session.
    """
    rng = random.Random(seed)
    image = Image.new("RGB", (640, 480), (214, 220, 226))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 50, 490, 440), fill=(233, 196, 170), outline=(160, 120, 100), width=3)
    for _ in range(1400):
        x, y = rng.uniform(165, 475), rng.uniform(65, 425)
        if ((x - 320) / 160) ** 2 + ((y - 245) / 185) ** 2 > 1 or abs(x - 320) < 4:
            continue
        # Thinner towards the crown: fewer strokes near the centre, as in patterned hair loss.
        if math.hypot(x - 320, y - 260) < 70 and rng.random() < 0.6:
            continue
        draw.line((x, y, x + rng.uniform(-4, 4), y + rng.uniform(5, 10)), fill=(70, 45, 30), width=2)
    if marks:
        for _ in range(34):
            x, y = rng.uniform(240, 400), rng.uniform(110, 330)
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(200, 60, 70))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@dataclass
class Lab:
    """What the PRP room of the demo clinic has: a centrifuge, its program and the lots."""

    centrifuge: Any
    program: Any
    tube_lot: Any
    kit_lot: Any


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
                self.style.SUCCESS(
                    "Demo clinic loaded: 4 staff, 30 patients, the treatment catalogue and consent forms, "
                    "screenings (one awaiting a physician), signed consents, two treatment plans with session 1 "
                    "done today and the rest of each series booked, an adverse event, aftercare, outcome scores "
                    "and photos, PRP spinning, rooms and working hours, first visits on the next working day."
                )
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
            if index % 5 == 0:  # referred by a hospital: its record number, as the chart shows it
                number = ExternalIdentifier.objects.create(
                    clinic=clinic,
                    patient=patient,
                    system="https://hospital.example/mrn",
                    value=f"H-{204100 + index}",
                    source=IdentifierSource.STAFF,
                    created_by=admin,
                )
                audit_record(
                    action="patient.identifier_add",
                    clinic=clinic,
                    actor=admin,
                    obj=patient,
                    changes={"external_identifiers": [None, [str(number)]]},
                )
        self._seed(clinic)
        self._seed(second)
        lab = self._load_lab(clinic)
        self._load_clinic_day(clinic, lab)
        self._load_schedule(clinic, lab)

    def _load_schedule(self, clinic: Clinic, lab: Lab) -> None:
        """Two rooms, the clinicians' week (Mon-Fri 08:00-18:00, a clinic choice), the rest of each
        treatment series booked from its plan, and a few first appointments on the next working day."""
        from prpclinic.scheduling.resources import appointment_types_seed, room_save, working_hours_add
        from prpclinic.scheduling.series import SeriesRow, series_book, series_propose
        from prpclinic.scheduling.services import appointment_book
        from prpclinic.treatments.models import PlanStatus, TreatmentPlan

        admin, front_desk = self._as("admin", clinic), self._as("frontdesk", clinic)
        appointment_types_seed(clinic=clinic)
        rooms = [room_save(request=admin, name=name) for name in ("Treatment room 1", "Treatment room 2")]
        clinicians = [User.objects.get(email=demo_email(handle)) for handle in ("physician", "nurse")]
        for clinician in clinicians:
            for weekday in range(5):
                working_hours_add(
                    request=admin, user_id=clinician.pk, weekday=weekday, starts=dt.time(8), ends=dt.time(18)
                )
        for plan in TreatmentPlan.objects.filter(clinic=clinic, status=PlanStatus.ACTIVE).order_by("pk"):
            proposals = series_propose(
                request=front_desk, plan_id=plan.pk, clinician_id=clinicians[1].pk, preferred_time=dt.time(10)
            )
            rows = [SeriesRow(p.session.pk, p.starts_at, p.room_id, p.centrifuge_id) for p in proposals if p.starts_at]
            if rows:
                series_book(request=front_desk, plan_id=plan.pk, clinician_id=clinicians[1].pk, rows=rows)
        day = dt.date.today() + dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        zone = zoneinfo.ZoneInfo(clinic.timezone)
        first_visits = [
            ("L000006", "microneedling_prp", 9),
            ("L000007", "prp_scalp", 11),
            ("L000008", "mesotherapy", 14),
        ]
        for (mrn, treatment, hour), room in zip(first_visits, rooms * 2, strict=False):
            appointment_book(
                request=front_desk, patient_id=Patient.objects.get(clinic=clinic, mrn=mrn).pk, treatment=treatment,
                clinician_id=clinicians[0].pk, room_id=room.pk,
                starts_at=dt.datetime.combine(day, dt.time(hour), tzinfo=zone),
            )  # fmt: skip

    def _seed(self, clinic: Clinic) -> None:
        """The starting treatment catalogue and consent forms (both idempotent; the apps would seed on first use)."""
        from prpclinic.consents.services import seed_templates
        from prpclinic.treatments.seeding import seed_catalogue

        seed_catalogue(clinic=clinic)
        seed_templates(clinic=clinic)

    def _load_lab(self, clinic: Clinic) -> Lab:
        """A centrifuge with a program, tube and kit lots, and a registered vial lot of a formulary cocktail."""
        from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram
        from prpclinic.treatments.models import Cocktail
        from prpclinic.treatments.services import vial_lot_register

        today = dt.date.today()
        device = Centrifuge.objects.create(
            clinic=clinic, name="Room 1 centrifuge", make="Demo", model="DC-1 (fictional)", serial_number="DEMO-0001",
            rotor_radius_cm=Decimal("8.6"), max_rpm=6000, tube_slots=8, calibration_due=today + dt.timedelta(days=120),
        )  # fmt: skip
        # Within the IADVL task force windows (PRP_REFERENCE.md §1): 1st spin 100-300 g for 5-10 min,
        # 2nd spin 400-700 g for 10-17 min.
        program = SpinProgram.objects.create(
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
        cocktail = Cocktail.objects.filter(clinic=clinic, is_active=True).order_by("pk").first()
        assert cocktail is not None  # seeded by seed_catalogue
        vial_lot_register(
            request=self._as("nurse", clinic), cocktail_id=cocktail.pk, lot_number="MV-2026-07",
            expiry_date=today + dt.timedelta(days=365),
        )  # fmt: skip
        return Lab(device, program, tube_lot, kit_lot)

    def _as(self, handle: str, clinic: Clinic) -> HttpRequest:
        return staff_request(User.objects.get(email=demo_email(handle)), clinic)

    def _load_clinic_day(self, clinic: Clinic, lab: Lab) -> None:
        """Today's patients, each through the services a nurse or physician would use on their pages.

        L000001: PRP for hair loss, screened and consented, visit open, PRP spinning on the day board.
        L000002: micro-needling with PRP, plan of the protocol's sessions, session 1 charted on the face
        map and completed; an adverse event with a follow-up outcome; aftercare printed.
        L000003: screened for mesotherapy (eligible). L000004: PRP for hair loss like L000002 on the scalp
        map, photography consent, hair density twice and two drawn scalp pictures (before, after).
        L000005: screened for PRP on anticoagulants: waits in the physician's review list. And one
        pre-visit questionnaire from the public page, pending in the inbox.
        """
        from prpclinic.intake.services import screening_record, submission_receive
        from prpclinic.prp.services import draw, spin
        from prpclinic.visits.services import visit_start

        nurse, physician = self._as("nurse", clinic), self._as("physician", clinic)
        patients = list(Patient.objects.filter(clinic=clinic).order_by("mrn")[:5])
        spinning, face, meso, scalp, anticoagulated = patients

        # L000001: PRP on today's board, in the centrifuge now.
        self._screen_and_consent(nurse, spinning, "prp_scalp")
        visit = visit_start(request=physician, patient_id=spinning.pk, treatment="prp_scalp")
        now = timezone.now()
        product = draw.blood_draw(
            request=nurse, visit_id=visit.pk, drawn_at=now - dt.timedelta(minutes=5), site="antecubital_left",
            tube_lot_id=lab.tube_lot.pk, kit_lot_id=lab.kit_lot.pk, anticoagulant="sodium_citrate_3_2",
            identity_check="confirmed", **DRAW,
        )  # fmt: skip
        spin.spin_start(
            request=nurse, product_id=product.pk, centrifuge_id=lab.centrifuge.pk, rcf=200, minutes=10,
            started_at=now - dt.timedelta(minutes=2),
        )  # fmt: skip

        self._face_session(clinic, lab, face)
        screening_record(
            request=physician, patient_id=meso.pk, treatment="mesotherapy", answers=screening_answers("mesotherapy")
        )
        self._scalp_session(clinic, lab, scalp)
        # Relative contraindication (PRP_REFERENCE §4): a physician reviews before any PRP visit.
        screening_record(
            request=nurse, patient_id=anticoagulated.pk, treatment="prp_scalp",
            answers=screening_answers("prp_scalp", anticoagulants=True),
        )  # fmt: skip
        submission_receive(
            clinic=clinic,
            treatment="microneedling_prp",
            person={
                "given_name": "Greta",
                "family_name": "Hofer",
                "date_of_birth": dt.date(1990, 6, 14),
                "sex": Sex.FEMALE,
                "phone": "+43 660 5550123",
                "email": "greta.hofer@example.org",
            },
            answers=screening_answers("microneedling_prp"),
            address="192.0.2.10",  # a documentation address (RFC 5737)
        )

    def _screen_and_consent(self, request: HttpRequest, patient: Patient, treatment: str) -> None:
        """An eligible screening and the treatment's consent, signed by the patient on the tablet."""
        from prpclinic.intake.services import screening_record

        screening = screening_record(
            request=request, patient_id=patient.pk, treatment=treatment, answers=screening_answers(treatment)
        )
        assert screening.result == "eligible", screening.fired
        self._sign(request, patient, treatment)

    def _sign(self, request: HttpRequest, patient: Patient, kind: str, photo_uses: tuple[str, ...] = ()) -> None:
        from prpclinic.consents.selectors import current_template
        from prpclinic.consents.services import consent_sign

        consent_sign(
            request=request, patient_id=patient.pk, kind=kind,
            template_id=current_template(clinic_id=patient.clinic_id, kind=kind).pk,
            signer_name=f"{patient.given_name} {patient.family_name}", signer_relationship="patient",
            signature=signature_data_url(patient.pk), photo_uses=photo_uses,
        )  # fmt: skip

    def _applied_prp(
        self, request: HttpRequest, lab: Lab, visit: Any, zones: dict[str, str], started_minutes_ago: int
    ) -> Any:
        """Draw, two spins of the program, preparation, bedside check and application of one product.

        The services refuse times in the future and apply "now", so the product is drawn
        ``started_minutes_ago`` (enough for both spins) and the day's products take turns in the one
        centrifuge. The visit itself starts "now" (``visit_start``), so the draw precedes it on the timeline.
        """
        from prpclinic.prp.services import bedside, draw, spin

        def ago(minutes: int) -> dt.datetime:
            return timezone.now() - dt.timedelta(minutes=started_minutes_ago - minutes)

        code = draw.patient_barcode(visit.patient.mrn)
        product = draw.blood_draw(
            request=request, visit_id=visit.pk, drawn_at=ago(0), site="antecubital_left",
            tube_lot_id=lab.tube_lot.pk, kit_lot_id=lab.kit_lot.pk, anticoagulant="sodium_citrate_3_2",
            identity_check="scan", scanned_code=code, **DRAW,
        )  # fmt: skip
        spin1 = lab.program.spin1_minutes
        for started in (5, 5 + spin1 + 1):
            spin.spin_start(
                request=request, product_id=product.pk, centrifuge_id=lab.centrifuge.pk, program_id=lab.program.pk,
                started_at=ago(started),
            )  # fmt: skip
        spin.product_prepare(
            request=request, product_id=product.pk, prepared_at=ago(5 + spin1 + 1 + lab.program.spin2_minutes + 2),
            **PREPARED,
        )  # fmt: skip
        bedside.product_verify_at_bedside(request=request, patient_code=code, product_code=product.barcode)
        return bedside.product_apply(
            request=request, product_id=product.pk, patient_id=visit.patient_id, visit_id=visit.pk,
            zones=[{"zone": zone, "volume_ml": ml} for zone, ml in zones.items()],
        )  # fmt: skip

    def _plan_and_start(self, clinic: Clinic, patient: Patient, treatment: str) -> Any:
        """Screening, consent, the plan (first session today) and the visit that takes session 1."""
        from prpclinic.treatments.plans import plan_create
        from prpclinic.visits.services import visit_start

        nurse = self._as("nurse", clinic)
        self._screen_and_consent(nurse, patient, treatment)
        plan_create(request=nurse, patient_id=patient.pk, kind=treatment, start_date=timezone.localdate())
        return visit_start(request=self._as("physician", clinic), patient_id=patient.pk, treatment=treatment)

    def _face_session(self, clinic: Clinic, lab: Lab, patient: Patient) -> None:
        from prpclinic.aftercare.services import adverse_event_add_outcome, adverse_event_record, aftercare_print
        from prpclinic.treatments.selectors import current_protocol
        from prpclinic.visits.services import visit_complete, zone_chart

        nurse, physician = self._as("nurse", clinic), self._as("physician", clinic)
        visit = self._plan_and_start(clinic, patient, "microneedling_prp")
        self._applied_prp(nurse, lab, visit, FACE_PRP_ML, started_minutes_ago=60)
        protocol = current_protocol(clinic_id=clinic.pk, kind="microneedling_prp")
        device = next(d for d in protocol.devices if d["code"] == "pen")
        for zone, ml in FACE_PRP_ML.items():
            low, _high = protocol.zone_depth_range(zone)  # the catalogue's range [S]: its lower end
            zone_chart(
                request=physician, visit_id=visit.pk, zone=zone, depth_mm=low, passes=device["passes"],
                device="pen", cartridge_lot="NC-2026-031", technique="passes", prp_volume_ml=Decimal(ml),
            )  # fmt: skip
        visit_complete(request=physician, visit_id=visit.pk)
        event = adverse_event_record(
            request=nurse, visit_id=visit.pk, type="erythema", severity="mild", serious=False,
            onset_at=timezone.now(), action_taken="Cool compress; the patient was told what to watch for.",
            outcome="resolving",
        )  # fmt: skip
        adverse_event_add_outcome(
            request=physician, event_id=event.pk, outcome="resolved", note="Checked before the patient left."
        )
        aftercare_print(request=nurse, visit_id=visit.pk)

    def _scalp_session(self, clinic: Clinic, lab: Lab, patient: Patient) -> None:
        from prpclinic.aftercare.services import aftercare_print
        from prpclinic.outcomes.services import photo_upload, score_record
        from prpclinic.treatments.selectors import current_protocol
        from prpclinic.visits.services import visit_complete, zone_chart

        nurse = self._as("nurse", clinic)
        self._sign(nurse, patient, "photography", photo_uses=("clinical_record", "share_with_patient"))
        days_ago, value = HAIR_DENSITY[0]
        score_record(
            request=nurse, patient_id=patient.pk, scale_code="hair_density", value=value, site="Vertex",
            recorded_on=timezone.localdate() - dt.timedelta(days=days_ago),
        )  # fmt: skip
        visit = self._plan_and_start(clinic, patient, "prp_scalp")
        photo_upload(
            request=nurse, patient_id=patient.pk, raw=scalp_picture(patient.pk, marks=False), view="scalp_top",
            visit_id=visit.pk, session_number=1, note="Before the session (drawn demo picture)",
        )  # fmt: skip
        self._applied_prp(nurse, lab, visit, SCALP_PRP_ML, started_minutes_ago=32)
        protocol = current_protocol(clinic_id=clinic.pk, kind="prp_scalp")
        technique = protocol.techniques[0]["code"]
        for zone, ml in SCALP_PRP_ML.items():
            low, _high = protocol.zone_depth_range(zone)
            zone_chart(
                request=nurse, visit_id=visit.pk, zone=zone, depth_mm=low, injections=SCALP_INJECTIONS[zone],
                technique=technique, prp_volume_ml=Decimal(ml),
            )  # fmt: skip
        visit_complete(request=nurse, visit_id=visit.pk)
        photo_upload(
            request=nurse, patient_id=patient.pk, raw=scalp_picture(patient.pk, marks=True), view="scalp_top",
            visit_id=visit.pk, session_number=1, note="After the session (drawn demo picture)",
        )  # fmt: skip
        days_ago, value = HAIR_DENSITY[1]
        score_record(
            request=nurse, patient_id=patient.pk, scale_code="hair_density", value=value, site="Vertex",
            recorded_on=timezone.localdate() - dt.timedelta(days=days_ago), visit_id=visit.pk, session_number=1,
        )  # fmt: skip
        aftercare_print(request=nurse, visit_id=visit.pk)

    def _print_sign_in(self) -> None:
        port = __import__("os").environ.get("PORT", "8000")
        from prpclinic.treatments.models import TreatmentPlan

        ids = dict(
            Patient.objects.filter(clinic__slug="linden", mrn__in=["L000002", "L000004"]).values_list("mrn", "pk")
        )
        face, scalp = ids.get("L000002"), ids.get("L000004")
        lines = [
            "",
            f"  prpclinic demo: open http://127.0.0.1:{port}/ and sign in with one of",
            *(f"    {demo_email(h):34} {label}" for h, _, label in [(h, n, r.label) for h, n, r in DEMO_STAFF]),
            f"  password for all: {DEMO_PASSWORD}",
            "  Clinic admin and physician also need a two-factor code; get the current one with",
            f"    DEBUG=1 .venv/bin/prpclinic demo_code {demo_email('physician')}",
        ]
        if TreatmentPlan.objects.filter(clinic__slug="linden").exists():
            lines += [
                "  Things to look at:",
                "    /screening/review/   a patient on anticoagulants waits for the physician's review",
                "    /screening/inbox/    a questionnaire sent from /info/linden/microneedling_prp/screening/",
                "    /prp/board/          today's PRP board (one product spinning)",
                "    /calendar/week/      the week's appointments (drag one to move it)",
                f"    /patients/{face}/         micro-needling plan: session 1 on the face map, an adverse event",
                f"    /patients/{scalp}/         PRP for hair loss plan: session 1 on the scalp map, photos, scores",
                f"    /outcomes/patients/{scalp}/compare/ and /outcomes/patients/{scalp}/progress/",
            ]
        else:  # loaded by an earlier version of this command, which kept its data
            lines.append("  (An older demo: remove var/prpclinic.sqlite3 and var/media to load the current one.)")
        self.stdout.write("\n".join([*lines, ""]))
