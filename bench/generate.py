"""Generate the benchmark database: one large clinic, two smaller ones, their staff and history.

    python -m bench.generate [--patients 100000] [--force]

The database (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/prpclinic_bench``)
is created if missing and migrated with ``prpclinic migrate``. A complete one with the same
number of patients is kept as it is; an incomplete or different one is dropped and rebuilt.

History, over the clinics' years of operation: each patient's registration, visits (a PRP or
mesotherapy series at the protocol's interval, then maintenance), later changes (with old and
new values), chart openings, some deactivations and merges; staff invitations, logins and
logouts; a few failed logins of unknown names.

The clinical history of the patients with visits, as the app's services write it: a treatment
plan per course (the starting catalogue's protocol, its sessions linked to the visits, stopped
when the patient did not come back), a screening with the app's rule set before each visit that
has no valid one (mostly eligible; some cautions, cleared by a physician before the visit), a
signed consent per course (signed again once expired; some photography consents), an
appointment for every visit (clinician and room without overlaps: the clinic hires physicians
when its schedule needs them), the next one booked for patients in a series, and ordinal outcome
scores (baseline, GAIS and satisfaction) for a share of the courses. Some patients without
visits were screened and refused or declined. Each of these writes the audit event the app's
service writes (not the visit's ``plan.session_link``, nor an appointment's check-in and
completion). Consent PDFs are not rendered (``pdf_size`` 0). Not generated: photos, PRP draws
and products, adverse events, charted zones.

Every event is sealed into its chain exactly as the app seals it (same HMAC), so ``prpclinic
verify_audit`` passes on it. Rows go in with COPY and explicit ids; 100,000 patients take a
few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import math
import os
import random
import secrets
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import sql

from bench.env import (
    GENERATOR_VERSION,
    database_name,
    database_url,
    default_patients,
    django_env,
    is_ready,
    maintenance_url,
    migration_digests,
    read_meta,
)

SEED = 2026
ADMIN, PHYSICIAN, NURSE, FRONT_DESK = "clinic_admin", "physician", "nurse", "front_desk"
PATIENT = "patients.patient"
UTC = dt.UTC


def _words(text: str) -> list[str]:
    return text.split()


@dataclass(frozen=True)
class ClinicPlan:
    name: str
    slug: str
    prefix: str
    share: float  # patients, as a share of --patients
    years: int  # in operation for
    staff: dict[str, int]


CLINICS = (
    ClinicPlan(
        "Donaupark Hair & Skin Clinic",
        "bench-donaupark",
        "D",
        1.0,
        6,
        {ADMIN: 1, PHYSICIAN: 4, NURSE: 10, FRONT_DESK: 5},
    ),
    ClinicPlan(
        "Riverside Hair Studio", "bench-riverside", "R", 0.10, 4, {ADMIN: 1, PHYSICIAN: 2, NURSE: 3, FRONT_DESK: 2}
    ),
    ClinicPlan("Alpine Aesthetics", "bench-alpine", "A", 0.05, 2, {ADMIN: 1, PHYSICIAN: 1, NURSE: 2, FRONT_DESK: 1}),
)
PATIENT_COLUMNS = _words(
    "id clinic_id mrn given_name family_name date_of_birth sex phone email address fitzpatrick_skin_type "
    "allergies current_medications notes is_active merged_into_id search_text created_at updated_at"
)
EVENT_COLUMNS = _words(
    "id clinic_id chain_key actor_id actor_label role action object_type object_id changes source_ip created_at"
)


@dataclass(frozen=True)
class Staff:
    user_id: int
    email: str
    role: str
    clinic_id: int
    since: dt.datetime | None = None  # hired after the clinic opened: invited then


# (created_at, clinic_id, actor, action, object_type, object_id, changes)
Event = tuple[dt.datetime, int | None, Staff | None, str, str, str, dict[str, Any]]


@dataclass
class Course:
    """One treatment course of a patient: the visits of a series (then maintenance), planned as one plan."""

    clinic_id: int
    patient_id: int
    sex: str
    registered: dt.datetime
    treatment: str
    clinician: Staff  # the physician the patient was given; the schedule may hand a visit to another
    visits: list[int]  # indices into History.visits
    next_at: dt.datetime | None = None  # the session still to come, when the series goes on


class History:
    """Collects events in any order; they are numbered by time when written."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng, self.now = rng, now
        # The clinical history beyond visits draws from its own generator, so that the draws of
        # the patients and visits (and with them every name) stay as they were before it existed.
        self.clinical_rng = random.Random(SEED + 1)
        self.events: list[Event] = []
        # [id, clinic_id, patient_id, treatment, clinician_id, started_at, status]; the schedule
        # may move a visit later in its day and give it to another physician (``_schedule``).
        self.visits: list[list[Any]] = []
        self.courses: list[Course] = []
        # Patients without visits: (clinic_id, patient_id, registered); some were screened.
        self.unseen: list[tuple[int, int, dt.datetime]] = []

    def add(
        self,
        at: dt.datetime,
        actor: Staff | None,
        clinic_id: int | None,
        action: str,
        object_type: str,
        object_id: int | str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        self.events.append((at, clinic_id, actor, action, object_type, str(object_id), changes or {}))

    def work_time(
        self, after: dt.datetime, before: dt.datetime | None = None, rng: random.Random | None = None
    ) -> dt.datetime:
        """A moment in opening hours (07:00-18:00 UTC) between ``after`` and ``before`` (or now)."""
        rng = rng or self.rng
        end = before or self.now
        span = max((end - after).total_seconds(), 1.0)
        moment = after + dt.timedelta(seconds=rng.random() * span)
        moment = moment.replace(hour=rng.randint(7, 17), minute=rng.randint(0, 59), second=rng.randint(0, 59))
        if moment <= after or moment >= end:  # the day's hour moved it out of range
            moment = after + dt.timedelta(seconds=rng.uniform(1, min(span, 5400)))
        return moment


def _ascii(text: str) -> str:
    from prpclinic.patients.models import fold

    return "".join(ch for ch in fold(text) if ch.isalnum())


def _phone(rng: random.Random) -> str:
    return f"+43 6{rng.choice(['50', '60', '64', '76', '99'])} {rng.randint(1_000_000, 9_999_999)}"


def _birth_date(rng: random.Random, today: dt.date) -> dt.date:
    age = min(max(rng.gauss(43, 13), 18), 88)  # PRP and micro-needling: mostly 25 to 60
    return today - dt.timedelta(days=int(age * 365.25) + rng.randint(0, 364))


def _previous_value(rng: random.Random, field: str, current: str, other_address: str) -> str:
    """What a changed field held before: another number or address, or a value since cleared."""
    from bench.names import ALLERGIES, MEDICATIONS, NOTES

    if field == "phone":
        return _phone(rng)
    if field == "address":
        return other_address
    if current:
        return ""  # the field was empty at registration and filled in later
    if field == "email":
        return "old@example.org"
    pool = {"allergies": ALLERGIES, "current_medications": MEDICATIONS, "notes": NOTES}.get(field, ("II", "III"))
    return rng.choice([v for v in pool if v])


def _pick(rng: random.Random, staff: list[Staff], *roles: str) -> Staff:
    return rng.choice([s for s in staff if s.role in roles])


def _patients(
    plan: ClinicPlan, clinic_id: int, count: int, first_id: int, staff: list[Staff], history: History
) -> list[tuple[Any, ...]]:
    """The clinic's patient rows (ids ``first_id``...), adding their history to ``history``."""
    from bench.names import ALLERGIES, MEDICATIONS, NOTES, NamePicker
    from prpclinic.patients.models import fold

    rng, now = history.rng, history.now
    names = NamePicker(rng)
    opened = now - dt.timedelta(days=365 * plan.years)
    span = (now - opened).total_seconds()
    # A clinic grows: the density of registrations rises with time (sqrt of a uniform draw).
    registered = sorted(opened + dt.timedelta(seconds=span * math.sqrt(rng.random())) for _ in range(count))
    rows: list[tuple[Any, ...]] = []
    merged: set[int] = set()
    for index, created in enumerate(registered):
        pid, number = first_id + index, index + 1
        created = history.work_time(created - dt.timedelta(hours=12), created + dt.timedelta(hours=12))
        created = min(created, now - dt.timedelta(minutes=5))
        female = rng.random() < 0.6
        sex = rng.choice(["other", "unknown"]) if rng.random() < 0.01 else ("female" if female else "male")
        given, family = names.given_name(female), names.family_name()
        mrn = f"{plan.prefix}{number:06d}"
        values: dict[str, Any] = {
            "given_name": given,
            "family_name": family,
            "date_of_birth": _birth_date(rng, now.date()),
            "sex": sex,
            "phone": _phone(rng) if rng.random() < 0.9 else "",
            "email": f"{_ascii(given)}.{_ascii(family)}{rng.randint(1, 99)}@example.org" if rng.random() < 0.7 else "",
            "address": names.address() if rng.random() < 0.8 else "",
            "fitzpatrick_skin_type": rng.choice(["I", "II", "III", "IV", "V", "VI"]) if rng.random() < 0.7 else "",
            "allergies": rng.choice(ALLERGIES),
            "current_medications": rng.choice(MEDICATIONS),
            "notes": rng.choice(NOTES),
        }
        registrar = _pick(rng, staff, FRONT_DESK, NURSE)
        history.add(
            created,
            registrar,
            clinic_id,
            "patient.create",
            PATIENT,
            pid,
            {k: [None, str(v)] for k, v in values.items() if v} | {"mrn": [None, mrn]},
        )
        updated = created
        # Later changes; each field at most once, so the last value is the one on record.
        fields = ["phone", "email", "address", "allergies", "current_medications", "notes", "fitzpatrick_skin_type"]
        for name in rng.sample(fields, rng.choices([0, 1, 2, 3], weights=[35, 35, 20, 10])[0]):
            at = history.work_time(created)
            old = _previous_value(rng, name, values[name], names.address())
            clinical = name not in ("phone", "email", "address")
            actor = _pick(rng, staff, NURSE, PHYSICIAN) if clinical else _pick(rng, staff, FRONT_DESK, NURSE)
            history.add(at, actor, clinic_id, "patient.update", PATIENT, pid, {name: [old, values[name]]})
            updated = max(updated, at)
        _visits(history, clinic_id, pid, created, staff, sex)
        for _ in range(rng.choices([0, 1, 2, 3, 4, 6, 10], weights=[10, 25, 20, 15, 12, 10, 8])[0]):
            history.add(
                history.work_time(created), _pick(rng, staff, NURSE, PHYSICIAN), clinic_id, "patient.view", PATIENT, pid
            )
        active, merged_into = True, None
        fate = rng.random()
        survivor = rng.randrange(first_id, pid) if index > 0 else 0
        if fate < 0.002 and survivor and survivor not in merged:  # a duplicate, merged into an older record
            merged.add(pid)
            at = history.work_time(created)
            actor = _pick(rng, staff, PHYSICIAN, ADMIN)
            reason = "Duplicate registration"
            survivor_mrn = f"{plan.prefix}{survivor - first_id + 1:06d}"
            history.add(
                at,
                actor,
                clinic_id,
                "patient.merge",
                PATIENT,
                survivor,
                {"merged_from": mrn, "moved": {}, "reason": reason},
            )
            changes = {"merged_into": [None, survivor_mrn], "is_active": [True, False], "reason": reason}
            history.add(at, actor, clinic_id, "patient.merged_away", PATIENT, pid, changes)
            active, merged_into, updated = False, survivor, max(updated, at)
        elif fate < 0.022:
            at = history.work_time(created)
            reason = rng.choice(["Moved abroad", "Deceased", "Asked to be removed from recall"])
            changes = {"is_active": [True, False], "reason": reason}
            history.add(at, _pick(rng, staff, PHYSICIAN, ADMIN), clinic_id, "patient.deactivate", PATIENT, pid, changes)
            active, updated = False, max(updated, at)
        search_text = fold(f"{family} {given} {mrn}")[:200]
        rows.append((pid, clinic_id, mrn, *values.values(), active, merged_into, search_text, created, updated))
    return rows


def _visits(history: History, clinic_id: int, pid: int, registered: dt.datetime, staff: list[Staff], sex: str) -> None:
    """Most patients come for a series, some later for maintenance, at the intervals of the protocol.

    The draws are those of the generator's first version (a monthly series, maintenance after
    180 days); each gap is then shifted by the difference to the protocol's interval
    (``treatments.catalogue``: mesotherapy weekly, scalp PRP maintenance every 90 days), so the
    jitter of each appointment and every later draw stay as they were.
    """
    rng = history.rng
    if rng.random() < 0.3:
        history.unseen.append((clinic_id, pid, registered))
        return
    treatment = rng.choice(["prp_scalp", "prp_scalp", "microneedling_prp", "mesotherapy"])
    clinician = _pick(rng, staff, PHYSICIAN)
    sessions = rng.choices([1, 2, 3, 4, 6], weights=[15, 15, 35, 25, 10])[0]
    series, interval, maintenance = _protocol(treatment)
    course = Course(clinic_id, pid, sex, registered, treatment, clinician, [])
    at = history.work_time(registered, registered + dt.timedelta(days=30))
    real = at
    for n in range(sessions):
        if at >= history.now:
            course.next_at = course.next_at or real
            break
        if real >= history.now - dt.timedelta(minutes=30) or course.next_at:
            # A longer protocol gap than the draw's put it in the future: booked, not yet seen; the
            # draws go on as they did, so later patients keep their names.
            course.next_at = course.next_at or real
        else:
            status = "completed" if real < history.now - dt.timedelta(hours=12) else "open"
            course.visits.append(len(history.visits))
            row = [len(history.visits) + 1, clinic_id, pid, treatment, clinician.user_id, real, status]
            history.visits.append(row)
        gap = 180 if n >= 3 else 30  # the draw's gap: the series, then maintenance
        planned = interval if n + 1 < series else maintenance
        following = history.work_time(at + dt.timedelta(days=gap - 3), at + dt.timedelta(days=gap + 4))
        real += following - at + dt.timedelta(days=planned - gap)
        at = following
    if course.next_at is not None and course.next_at < history.now + dt.timedelta(hours=2):
        # Due already (the protocol's interval is shorter than the draw's): booked in the coming weeks.
        soon = history.now + dt.timedelta(days=1)
        course.next_at = history.work_time(soon, soon + dt.timedelta(days=20), rng=history.clinical_rng)
    history.courses.append(course)


def _staff_history(staff: list[Staff], opened: dict[int, dt.datetime], history: History) -> None:
    """Invitations when each clinic opened, then a login every few working days, most with a logout."""
    rng = history.rng
    admins = {s.clinic_id: s for s in staff if s.role == ADMIN}
    for member in staff:
        start = member.since or opened[member.clinic_id]
        history.add(
            start + dt.timedelta(hours=rng.randint(1, 48)),
            admins[member.clinic_id],
            member.clinic_id,
            "staff.invite",
            "clinics.membership",
            member.user_id,
            {"email": member.email, "role": member.role, "new_account": True},
        )
        day = start.date() + dt.timedelta(days=3)
        while day < history.now.date():
            login = dt.datetime(day.year, day.month, day.day, rng.randint(6, 9), rng.randint(0, 59), tzinfo=UTC)
            history.add(login, member, member.clinic_id, "login", "clinics.user", member.user_id)
            if rng.random() < 0.7:
                reason = rng.choice(["user", "user", "idle"])
                logout = login + dt.timedelta(hours=rng.randint(4, 9))
                history.add(
                    logout, member, member.clinic_id, "logout", "clinics.user", member.user_id, {"reason": reason}
                )
            day += dt.timedelta(days=rng.randint(1, 5))
    for _ in range(300):  # unknown names tried at the login form: the global chain
        at = history.work_time(history.now - dt.timedelta(days=700))
        history.add(
            at, None, None, "login.failed", "clinics.user", "", {"attempted": f"user{rng.randint(1, 999)}@example.org"}
        )


# --- The clinical history: screenings, consents, plans, appointments and outcome scores ---------

CLINIC_ZONE = "Europe/Vienna"
DAY_END_HOUR = 20  # UTC: no appointment is moved past this hour to find it a free slot
MAX_SHIFT = dt.timedelta(hours=2)  # how far the schedule moves a visit later in its day before hiring
# Answers that make a screening ask for a physician's review (relative rules of ``intake.rules``),
# per treatment; mesotherapy has only the absolute site-infection rule, so no caution.
CAUTIONS = {
    "prp_scalp": ("tobacco", "anticoagulants", "nsaid_recent"),
    "microneedling_prp": ("tobacco", "active_acne", "skin_disease", "keratoses_moles", "nsaid_recent"),
    "mesotherapy": (),
}
# Answers that make a screening refuse a patient who then never came (absolute rules).
REFUSALS = {
    "prp_scalp": ("platelet_dysfunction", "local_infection"),
    "microneedling_prp": ("critical_thrombocytopenia", "local_infection"),
    "mesotherapy": ("local_infection",),
}
CLEARED = "Discussed with the patient; cleared for this treatment."
DECLINED = "Discussed with the patient; the treatment is not advised for now."


@functools.cache
def _protocol(treatment: str) -> tuple[int, int, int]:
    """(series sessions, interval days, maintenance interval days) of the starting catalogue's protocol."""
    from prpclinic.treatments import catalogue

    values = catalogue.protocols()[treatment]
    return values["sessions"], values["interval_days"], values["maintenance_interval_days"]


def _signature_png() -> bytes:
    """A small drawn stroke, as the signing box sends it (the chart never shows it)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("L", (300, 100), 255)
    ImageDraw.Draw(image).line([(20, 70), (80, 30), (140, 75), (200, 35), (280, 60)], fill=0, width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class ClinicSetup:
    """What each generated clinic has before its patients come: catalogue, forms, appointment types."""

    treatment_ids: dict[str, int]
    protocol_ids: dict[str, int]
    templates: dict[str, tuple[int, str]]  # kind -> (template id, statement)
    minutes: dict[str, tuple[int, int, int]]  # treatment -> (prep, spin, treatment)


def _setup_clinic(clinic: Any, opened: dt.datetime, history: History) -> ClinicSetup:
    """The starting catalogue (as ``treatments.seeding`` writes it), consent forms and appointment types.

    Written through the app's models; the catalogue's audit event goes into the generated history
    (``seed_catalogue`` would write it at once, before the generated events take their ids).
    """
    from prpclinic.consents.models import ConsentTemplate
    from prpclinic.consents.services import seed_templates
    from prpclinic.scheduling.models import AppointmentType
    from prpclinic.scheduling.resources import appointment_types_seed
    from prpclinic.treatments import catalogue
    from prpclinic.treatments.models import Cocktail, Protocol, Treatment

    treatments, protocols = {}, {}
    for kind, values in catalogue.protocols().items():
        summary, text = catalogue.PATIENT_TEXT[kind]
        treatment = Treatment(
            clinic=clinic, kind=kind, name=catalogue.NAMES[kind], summary=summary, patient_text=text, created_at=opened
        )
        treatment.full_clean()
        treatment.save()
        protocol = Protocol(
            clinic=clinic,
            treatment=treatment,
            version=1,
            is_current=True,
            change_note="Starting catalogue",
            created_at=opened,
            **values,
        )
        protocol.full_clean()
        protocol.save()
        treatments[kind], protocols[kind] = treatment.pk, protocol.pk
    for item in catalogue.COCKTAILS:
        Cocktail.objects.create(clinic=clinic, created_at=opened, **item)
    changes = {
        "treatments": list(treatments),
        "protocols": list(protocols),
        "cocktails": [c["name"] for c in catalogue.COCKTAILS],
    }
    history.add(
        opened + dt.timedelta(minutes=5), None, clinic.pk, "catalogue.seed", "clinics.clinic", clinic.pk, changes
    )
    seed_templates(clinic=clinic)
    ConsentTemplate.objects.filter(clinic=clinic).update(created_at=opened)  # the forms the clinic opened with
    templates = {t.kind: (t.pk, t.statement) for t in ConsentTemplate.objects.filter(clinic=clinic, is_current=True)}
    appointment_types_seed(clinic=clinic)
    AppointmentType.objects.filter(clinic=clinic).update(updated_at=opened)
    minutes = {
        t.treatment: (t.prep_minutes, t.spin_minutes, t.treatment_minutes)
        for t in AppointmentType.objects.filter(clinic=clinic)
    }
    return ClinicSetup(treatments, protocols, templates, minutes)


@dataclass
class Slot:
    starts_at: dt.datetime
    clinician: int  # a user id, or -n for the n-th physician the clinic had to hire
    room: int  # 0-based index of the clinic's treatment rooms


@dataclass
class Schedule:
    slots: dict[tuple[str, int], Slot]  # ("visit", visit index) or ("next", course index)
    hired: dict[int, list[dt.datetime]]  # clinic -> first appointment of each physician hired
    rooms: dict[int, int]  # clinic -> rooms needed


def _minutes_total(setups: dict[int, ClinicSetup], clinic_id: int, treatment: str) -> int:
    return sum(setups[clinic_id].minutes[treatment])


def _schedule(history: History, setups: dict[int, ClinicSetup], physicians: dict[int, list[int]]) -> Schedule:
    """Give every appointment a clinician and a room without overlaps (the database refuses those).

    Appointments are placed in time order at their visit's time (rounded up to 5 minutes); a busy
    physician hands the patient to the one free longest, and when nobody is free within
    ``MAX_SHIFT`` the clinic hires a physician (and adds a room the same way). So the staff grows
    with the clinic, as the schedule of a real one would make it. No random draws.
    """
    requests: list[tuple[dt.datetime, int, int, tuple[str, int], int]] = []
    for index, course in enumerate(history.courses):
        minutes = _minutes_total(setups, course.clinic_id, course.treatment)
        for v in course.visits:
            wanted = history.visits[v][5]
            if v == course.visits[0]:  # registered at the desk first: the first visit starts a while after
                latest = history.now - dt.timedelta(minutes=10)
                wanted = min(max(wanted, course.registered + dt.timedelta(minutes=45)), latest)
            requests.append((wanted, course.clinic_id, minutes, ("visit", v), index))
        if course.next_at is not None:
            requests.append((course.next_at, course.clinic_id, minutes, ("next", index), index))
    requests.sort(key=lambda r: r[0])
    slots: dict[tuple[str, int], Slot] = {}
    hired: dict[int, list[dt.datetime]] = {c: [] for c in physicians}
    # A physician's time is shared by every clinic they work at; a hired one is (clinic, -n).
    pools: dict[int, list[Any]] = {c: list(ids) for c, ids in physicians.items()}
    free: dict[Any, dt.datetime] = {}
    room_free: dict[int, list[dt.datetime]] = {c: [] for c in physicians}
    last: dict[int, Any] = {}  # course -> its latest clinician, kept where possible
    never = dt.datetime(1970, 1, 1, tzinfo=UTC)
    for wanted, clinic_id, minutes, key, index in requests:
        pool, rooms = pools[clinic_id], room_free[clinic_id]
        start = wanted.replace(second=0, microsecond=0)
        start += dt.timedelta(minutes=-start.minute % 5)
        length = dt.timedelta(minutes=minutes)
        limit = min(start + MAX_SHIFT, start.replace(hour=DAY_END_HOUR, minute=0) - length)
        if key[0] == "visit":  # a visit seen already cannot move into the future
            limit = min(limit, history.now - dt.timedelta(minutes=10))
        limit = max(limit, start)
        preferred = last.get(index, history.courses[index].clinician.user_id)
        idle = free.get(preferred, never) <= start
        clinician = preferred if idle else min(pool, key=lambda k: free.get(k, never))
        begins = max(start, free.get(clinician, never))
        if begins > limit:
            hired[clinic_id].append(start)
            clinician = (clinic_id, -len(hired[clinic_id]))
            pool.append(clinician)
            begins = start
        room = min(range(len(rooms)), key=rooms.__getitem__, default=None)
        if room is None or max(begins, rooms[room]) > limit:
            rooms.append(never)
            room = len(rooms) - 1
        begins = max(begins, rooms[room])
        free[clinician] = rooms[room] = begins + length
        last[index] = clinician
        ref = clinician[1] if isinstance(clinician, tuple) else clinician
        slots[key] = Slot(begins, ref, room)
    return Schedule(slots, hired, {c: len(r) for c, r in room_free.items()})


class Rows:
    """The new tables' rows as dicts keyed by column (``attname``), ids in order."""

    def __init__(self) -> None:
        self.screenings: list[dict[str, Any]] = []
        self.consents: list[dict[str, Any]] = []
        self.plans: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []
        self.appointments: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []

    @staticmethod
    def add(table: list[dict[str, Any]], **values: Any) -> int:
        values["id"] = len(table) + 1
        table.append(values)
        return values["id"]


class Clinical:
    """Writes each course's screenings, consents, plan, appointments and scores (``clinical_rng``)."""

    def __init__(
        self,
        history: History,
        setups: dict[int, ClinicSetup],
        schedule: Schedule,
        staff: list[Staff],
        names: dict[int, str],
        rooms: dict[int, list[int]],
        hired: dict[int, list[Staff]],
    ) -> None:
        from zoneinfo import ZoneInfo

        from prpclinic.consents.models import DEFAULT_VALIDITY_DAYS
        from prpclinic.intake import rules
        from prpclinic.intake.models import ScreeningSettings

        # How long a screening and a consent stay valid: the app's defaults, which the generated clinics keep.
        self.screening_valid = dt.timedelta(days=ScreeningSettings._meta.get_field("validity_days").default)
        self.consent_valid = dt.timedelta(days=DEFAULT_VALIDITY_DAYS)
        self.history, self.setups, self.schedule, self.names, self.rooms = history, setups, schedule, names, rooms
        self.hired = hired
        self.inactive: set[int] = set()
        self.rng = history.clinical_rng
        self.now = history.now
        self.zone = ZoneInfo(CLINIC_ZONE)
        self.rules = rules
        self.rows = Rows()
        self.by_user = {(s.clinic_id, s.user_id): s for s in staff}
        self.staff = {c: [s for s in staff if s.clinic_id == c] for c in {s.clinic_id for s in staff}}
        self.signature = _signature_png()
        self._evaluations: dict[str, Any] = {}
        self._pool: dict[tuple[int, tuple[str, ...]], list[Staff]] = {}

    # --- helpers
    def day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def between(self, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
        """A moment in (lo, hi); ``lo`` itself plus a second when the span is empty."""
        if hi <= lo:
            return lo + dt.timedelta(seconds=1)
        return lo + dt.timedelta(seconds=self.rng.uniform(1, max((hi - lo).total_seconds() - 1, 1)))

    def pick(self, clinic_id: int, *roles: str) -> Staff:
        key = (clinic_id, roles)
        if key not in self._pool:
            self._pool[key] = [s for s in self.staff[clinic_id] if s.role in roles]
        return self.rng.choice(self._pool[key])

    def clinician(self, clinic_id: int, ref: int) -> Staff:
        return self.hired[clinic_id][-ref - 1] if ref < 0 else self.by_user[(clinic_id, ref)]

    # --- screening
    def evaluate(self, treatment: str, answers: dict[str, Any], day: dt.date, plain: bool) -> Any:
        """``intake.rules.evaluate`` as the app runs it; answers without any finding share one result."""
        if plain and treatment in self._evaluations:
            return self._evaluations[treatment]
        found = self.rules.evaluate(answers, self.rules.rules_for(treatment), day, overrides={})
        if plain:
            self._evaluations[treatment] = found
        return found

    def screening(
        self, course_clinic: int, patient: int, treatment: str, at: dt.datetime, *, mood: str, review_by: dt.datetime
    ) -> tuple[int, dt.datetime, bool]:
        """One staff screening (``intake.services`` shapes); ``mood``: plain, caution or refusal.

        A caution is reviewed by a physician before ``review_by``: cleared when the patient was
        treated (``mood`` "caution"), declined when not ("caution_declined"), pending when too recent.
        Returns (id, expires_at, allows treatment).
        """
        rng, rules = self.rng, self.rules
        today = self.day(at)
        answers: dict[str, Any] = {}
        for question in rules.questions_for(treatment):
            if question.kind == "yes_no":
                answers[question.key] = question.key == "accepts_risk"
            else:
                answers[question.key] = None
        if "nsaid_last" in answers and rng.random() < 0.2:  # taken weeks ago: outside the window, asked anyway
            answers["nsaid_last"] = (today - dt.timedelta(days=rng.randint(10, 200))).isoformat()
        plain = True
        if mood.startswith("caution") and CAUTIONS[treatment]:
            key = rng.choice(CAUTIONS[treatment])
            if key == "nsaid_recent":
                answers["nsaid_last"] = (today - dt.timedelta(days=1)).isoformat()
            else:
                answers[key] = True
            plain = False
        elif mood == "refusal":
            answers[rng.choice(REFUSALS[treatment])] = True
            plain = False
        if plain and answers.get("nsaid_last"):
            plain = False
        found = self.evaluate(treatment, answers, today, plain)
        recorder = self.pick(course_clinic, NURSE, PHYSICIAN)
        review: dict[str, Any] = {
            "review_status": "none",
            "reviewed_by_id": None,
            "reviewed_at": None,
            "review_reason": "",
        }
        if found.result == "needs_review":
            review["review_status"] = "pending"
            if review_by > at + dt.timedelta(minutes=2) and review_by < self.now:
                physician = self.pick(course_clinic, PHYSICIAN)
                decision, reason = ("declined", DECLINED) if mood == "caution_declined" else ("cleared", CLEARED)
                when = self.between(at, min(review_by, at + dt.timedelta(days=2)))
                review = {
                    "review_status": decision,
                    "reviewed_by_id": physician.user_id,
                    "reviewed_at": when,
                    "review_reason": reason,
                }
        expires = at + self.screening_valid
        fired = [f.as_dict() for f in found.fired]
        sid = Rows.add(
            self.rows.screenings,
            clinic_id=course_clinic,
            patient_id=patient,
            treatment=treatment,
            source="staff",
            answers=answers,
            result=found.result,
            fired=fired,
            ruleset_version=rules.RULESET_VERSION,
            rule_versions=found.rule_versions,
            parameters_used=found.parameters_used,
            recorded_by_id=recorder.user_id,
            recorded_at=at,
            expires_at=expires,
            **review,
        )
        changes = {
            "patient": patient,
            "treatment": treatment,
            "source": "staff",
            "result": found.result,
            "fired": [f.rule_id for f in found.fired],
            "ruleset_version": rules.RULESET_VERSION,
        }
        self.history.add(at, recorder, course_clinic, "screening.record", "intake.screening", sid, changes)
        if review["reviewed_at"] is not None:
            reviewer = self.by_user[(course_clinic, review["reviewed_by_id"])]
            changes = {"review_status": ["pending", review["review_status"]], "reason": review["review_reason"]}
            self.history.add(
                review["reviewed_at"], reviewer, course_clinic, "screening.review", "intake.screening", sid, changes
            )
        allows = found.result == "eligible" or review["review_status"] == "cleared"
        return sid, expires, allows

    # --- consent
    def consent(self, clinic_id: int, patient: int, kind: str, at: dt.datetime, uses: list[str]) -> dt.datetime:
        """A consent signed by the patient on the clinic's current form; returns when it expires.

        No PDF is rendered or stored (the chart reads none): ``pdf_name`` names a file that does not
        exist, ``pdf_size`` is 0 and ``pdf_sha256`` is that of the name, so the consent's document
        page reports the file missing.
        """
        template_id, statement = self.setups[clinic_id].templates[kind]
        recorder = self.pick(clinic_id, NURSE, PHYSICIAN, FRONT_DESK)
        expires = at + self.consent_valid
        name = f"consents/{clinic_id}/{self.rng.getrandbits(128):032x}.pdf"
        digest = hashlib.sha256(name.encode()).hexdigest()
        cid = Rows.add(
            self.rows.consents,
            clinic_id=clinic_id,
            patient_id=patient,
            kind=kind,
            template_id=template_id,
            template_version=1,
            signer_name=self.names[patient],
            signer_relationship="patient",
            signature_png=self.signature,
            meaning=statement,
            photo_uses=uses,
            witness_name="",
            witness_signature_png=b"",
            signed_at=at,
            signed_timezone=CLINIC_ZONE,
            expires_at=expires,
            recorded_by_id=recorder.user_id,
            pdf_name=name,
            pdf_sha256=digest,
            pdf_size=0,
        )
        changes = {
            "patient": patient,
            "kind": kind,
            "template_version": 1,
            "signer_relationship": "patient",
            "witness": False,
            "photo_uses": uses,
            "expires_at": expires.isoformat(),
            "pdf_sha256": digest,
        }
        self.history.add(at, recorder, clinic_id, "consent.sign", "consents.signedconsent", cid, changes)
        return expires

    # --- a whole course
    def course(self, index: int, course: Course) -> None:
        rng, now, history = self.rng, self.now, self.history
        clinic_id, patient, kind = course.clinic_id, course.patient_id, course.treatment
        setup = self.setups[clinic_id]
        series, interval, maintenance = _protocol(kind)
        prep, spin, treat = setup.minutes[kind]
        length = dt.timedelta(minutes=prep + spin + treat)
        # The schedule's time and clinician become the visit's.
        visits = [history.visits[v] for v in course.visits]
        for v, row in zip(course.visits, visits, strict=True):
            slot = self.schedule.slots[("visit", v)]
            row[4] = self.clinician(clinic_id, slot.clinician).user_id
            row[5] = slot.starts_at
            row[6] = "completed" if slot.starts_at < now - dt.timedelta(hours=12) else "open"
        upcoming = self.schedule.slots.get(("next", index))
        if patient in self.inactive:  # deactivated or merged away: nothing booked for them any more
            upcoming = None
        if not visits and upcoming is None:
            return
        first_at = visits[0][5] if visits else upcoming.starts_at if upcoming else now
        booked = self.between(course.registered, min(first_at - dt.timedelta(hours=1), now))
        planner = (
            self.clinician(clinic_id, self.schedule.slots[("visit", course.visits[0])].clinician)
            if visits
            else course.clinician
        )
        if planner.role != PHYSICIAN:
            planner = course.clinician
        # The plan: the protocol's series from the first session's day, maintenance added as it came.
        start = self.day(first_at)
        plan_id = Rows.add(
            self.rows.plans,
            clinic_id=clinic_id,
            patient_id=patient,
            treatment_id=setup.treatment_ids[kind],
            kind=kind,
            protocol_id=setup.protocol_ids[kind],
            status="active",
            start_date=start,
            notes="",
            created_by_id=planner.user_id,
            created_at=booked,
            stopped_at=None,
        )
        dues = [start + dt.timedelta(days=interval * n) for n in range(series)]  # treatments.series.series_dates
        history.add(
            booked,
            planner,
            clinic_id,
            "plan.create",
            "treatments.treatmentplan",
            plan_id,
            {
                "patient": patient,
                "treatment": kind,
                "protocol_version": 1,
                "sessions": series,
                "due_dates": [str(d) for d in dues],
            },
        )
        sessions = [
            Rows.add(
                self.rows.sessions,
                clinic_id=clinic_id,
                plan_id=plan_id,
                number=n,
                due_date=due,
                kind="series",
                status="planned",
                visit_id=None,
            )
            for n, due in enumerate(dues, start=1)
        ]
        wanted = len(visits) + (1 if upcoming else 0)
        while len(sessions) < wanted:  # maintenance, planned by the physician at the session before it
            due = self.rows.sessions[sessions[-1] - 1]["due_date"] + dt.timedelta(days=maintenance)
            before = visits[len(sessions) - 1]
            at = min(before[5] + length + dt.timedelta(minutes=rng.randint(2, 20)), now - dt.timedelta(minutes=1))
            sessions.append(
                Rows.add(
                    self.rows.sessions,
                    clinic_id=clinic_id,
                    plan_id=plan_id,
                    number=len(sessions) + 1,
                    due_date=due,
                    kind="maintenance",
                    status="planned",
                    visit_id=None,
                )
            )
            detail = {"due_dates": [str(due)]}
            self.plan_change(clinic_id, plan_id, "maintenance", "Maintenance after the series", detail, planner, at)
        # Screening and consent before each visit that has no valid one; appointments; scores.
        screened_until = signed_until = dt.datetime.min.replace(tzinfo=UTC)
        scored = rng.random() < 0.6
        scale = _baseline_scale(kind, course.sex, rng)
        level = None
        previous_end = course.registered
        for n, row in enumerate(visits):
            at, clinician = (
                row[5],
                self.clinician(clinic_id, self.schedule.slots[("visit", course.visits[n])].clinician),
            )
            lo = max(course.registered, previous_end) + dt.timedelta(minutes=1)
            if screened_until <= at:
                if n == 0:
                    when = self.between(max(lo, at - dt.timedelta(days=14)), at - dt.timedelta(minutes=20))
                else:
                    when = self.between(max(lo, at - dt.timedelta(minutes=90)), at - dt.timedelta(minutes=10))
                mood = "caution" if rng.random() < 0.12 else "plain"
                when = min(when, at - dt.timedelta(seconds=30))
                _, screened_until, _ = self.screening(clinic_id, patient, kind, when, mood=mood, review_by=at)
                signing = when + dt.timedelta(minutes=rng.randint(2, 9))
            else:
                signing = self.between(max(lo, at - dt.timedelta(minutes=40)), at - dt.timedelta(minutes=2))
            signing = min(signing, at - dt.timedelta(minutes=1))
            if signed_until <= at:
                signed_until = self.consent(clinic_id, patient, kind, signing, [])
                if n == 0 and rng.random() < 0.4:
                    uses = ["clinical_record"] + (["share_with_patient"] if rng.random() < 0.5 else [])
                    self.consent(clinic_id, patient, "photography", signing + dt.timedelta(seconds=40), uses)
            session_id = sessions[n]
            self.rows.sessions[session_id - 1]["visit_id"] = row[0]
            done = row[6] == "completed"
            ends = at + length
            bookings = [booked] if n == 0 else [previous_end + dt.timedelta(minutes=rng.randint(3, 30))]
            if n > 0 and rng.random() < 0.04 and at - dt.timedelta(days=7) > bookings[0] + dt.timedelta(days=1):
                # A missed appointment a week earlier; the patient was booked again that day.
                missed = at - dt.timedelta(days=7)
                self.appointment(
                    clinic_id,
                    patient,
                    kind,
                    session_id,
                    None,
                    clinician,
                    0,
                    missed,
                    setup,
                    "no_show",
                    bookings[0],
                    missed + dt.timedelta(minutes=30),
                )
                bookings = [missed + dt.timedelta(minutes=rng.randint(40, 300))]
            room = self.schedule.slots[("visit", course.visits[n])].room
            self.appointment(
                clinic_id,
                patient,
                kind,
                session_id,
                row[0],
                clinician,
                room,
                at,
                setup,
                "completed" if done else "in_treatment",
                bookings[0],
                ends if done else at,
            )
            history.add(
                at,
                clinician,
                clinic_id,
                "visit.start",
                "visits.visit",
                row[0],
                {"treatment": kind, "protocol": setup.protocol_ids[kind], "protocol_version": 1},
            )
            if scored and (n == 0 or (done and n >= series - 1)):
                level = self.scores(
                    clinic_id, patient, row[0], n + 1, clinician, at, scale, level, final=n == series - 1
                )
            previous_end = ends
        # The plan's state now.
        plan = self.rows.plans[plan_id - 1]
        if upcoming is not None:
            session_id = sessions[len(visits)]
            clinician = self.clinician(clinic_id, upcoming.clinician)
            made = (
                previous_end + dt.timedelta(minutes=rng.randint(3, 30)) if visits else booked + dt.timedelta(minutes=2)
            )
            made = min(made, now - dt.timedelta(minutes=1))
            self.appointment(
                clinic_id,
                patient,
                kind,
                session_id,
                None,
                clinician,
                upcoming.room,
                upcoming.starts_at,
                setup,
                "booked",
                made,
                made,
            )
        elif visits and len(visits) >= len(sessions) and all(r[6] == "completed" for r in visits):
            plan["status"] = "completed"
        elif visits and visits[-1][5] < now - dt.timedelta(days=150):
            stopped = visits[-1][5] + dt.timedelta(days=rng.randint(45, 120), minutes=rng.randint(0, 600))
            reason = rng.choice(["The patient decided not to continue.", "The patient did not come back."])
            plan.update(status="stopped", stopped_at=stopped)
            self.plan_change(clinic_id, plan_id, "stop", reason, {"status": ["active", "stopped"]}, planner, stopped)

    def plan_change(
        self,
        clinic_id: int,
        plan_id: int,
        kind: str,
        reason: str,
        detail: dict[str, Any],
        planner: Staff,
        at: dt.datetime,
    ) -> None:
        """A change to a plan (maintenance added, plan stopped) and its audit event, as the app writes both."""
        Rows.add(
            self.rows.changes,
            clinic_id=clinic_id,
            plan_id=plan_id,
            kind=kind,
            reason=reason,
            detail=detail,
            by_id=planner.user_id,
            at=at,
        )
        self.history.add(
            at, planner, clinic_id, f"plan.{kind}", "treatments.treatmentplan", plan_id, {"reason": reason, **detail}
        )

    def appointment(
        self,
        clinic_id: int,
        patient: int,
        kind: str,
        session_id: int,
        visit_id: int | None,
        clinician: Staff,
        room: int,
        starts: dt.datetime,
        setup: ClinicSetup,
        status: str,
        made: dt.datetime,
        updated: dt.datetime,
    ) -> None:
        """An appointment for a plan's session, its segments copied from the appointment type; audited when booked."""
        prep, spin, treat = setup.minutes[kind]
        ends = starts + dt.timedelta(minutes=prep + spin + treat)
        booker = self.pick(clinic_id, FRONT_DESK, NURSE)
        room_id = self.rooms[clinic_id][room]
        aid = Rows.add(
            self.rows.appointments,
            clinic_id=clinic_id,
            patient_id=patient,
            treatment=kind,
            plan_session_id=session_id,
            clinician_id=clinician.user_id,
            room_id=room_id,
            centrifuge_id=None,
            tubes=0,
            starts_at=starts,
            ends_at=ends,
            prep_minutes=prep,
            spin_minutes=spin,
            treatment_minutes=treat,
            status=status,
            status_reason="",
            visit_id=visit_id,
            note="",
            created_by_id=booker.user_id,
            created_at=made,
            updated_at=max(updated, made),
        )
        changes = {
            "patient": patient,
            "treatment": kind,
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "clinician": clinician.user_id,
            "room": room_id,
            "centrifuge": None,
            "tubes": 0,
            "plan_session": session_id,
        }
        self.history.add(made, booker, clinic_id, "appointment.book", "scheduling.appointment", aid, changes)

    def scores(
        self,
        clinic_id: int,
        patient: int,
        visit_id: int,
        number: int,
        clinician: Staff,
        at: dt.datetime,
        scale: str,
        level: int | None,
        *,
        final: bool,
    ) -> int:
        """The baseline scale at the first session; at the end of the series and each maintenance session
        the same scale again and the GAIS, and at the end of the series the patient's satisfaction."""
        from prpclinic.outcomes import scales

        rng = self.rng
        chosen = scales.SCALES[scale]
        levels = chosen.levels("")
        if level is None:
            level = rng.randint(1, len(levels) - 2)  # not the ends of the scale
        elif rng.random() < 0.35:  # a step better
            level = max(0, min(len(levels) - 1, level + (1 if chosen.better_when_higher("") else -1)))
        ratings = [(scale, "", levels[level].value, "clinician")]
        if number > 1:
            ratings.append(("gais", "standard", rng.choices("12345", weights=[10, 30, 35, 22, 3])[0], "clinician"))
            if final:
                ratings.append(("satisfaction", "", rng.choices("12345", weights=[3, 7, 20, 40, 30])[0], "patient"))
        recorded = min(at + dt.timedelta(minutes=rng.randint(30, 70)), self.now - dt.timedelta(minutes=1))
        for code, variant, value, rater in ratings:
            numeric, shown = scales.parse_value(scales.SCALES[code], value, variant=variant)
            sid = Rows.add(
                self.rows.scores,
                clinic_id=clinic_id,
                patient_id=patient,
                visit_id=visit_id,
                session_number=number,
                scale=code,
                variant=variant,
                value=numeric,
                level=shown,
                area_cm2=None,
                site="",
                rater=rater,
                recorded_on=self.day(at),
                recorded_by_id=clinician.user_id,
                recorded_at=recorded,
                status="current",
                corrects_id=None,
                correction_reason="",
            )
            changes = {
                "patient": patient,
                "scale": code,
                "value": [None, shown],
                "rater": rater,
                "variant": variant,
                "recorded_on": self.day(at).isoformat(),
            }
            self.history.add(recorded, clinician, clinic_id, "outcome.score.record", "outcomes.score", sid, changes)
        return level

    def unseen(self, clinic_id: int, patient: int, registered: dt.datetime) -> None:
        """Some patients who never had a visit were screened: refused, declined on review, or never booked."""
        rng = self.rng
        if rng.random() >= 0.1:
            return
        treatment = rng.choice(["prp_scalp", "prp_scalp", "microneedling_prp", "mesotherapy"])
        at = self.history.work_time(registered, min(registered + dt.timedelta(days=10), self.now), rng=rng)
        fate = rng.random()
        mood = "plain" if fate < 0.4 else "refusal" if fate < 0.7 or not CAUTIONS[treatment] else "caution_declined"
        review_by = at + dt.timedelta(days=3)
        self.screening(clinic_id, patient, treatment, at, mood=mood, review_by=review_by)


def _baseline_scale(treatment: str, sex: str, rng: random.Random) -> str:
    """The scale a clinician rates at the first session: pattern hair loss for the scalp, the face's for the face."""
    if treatment == "prp_scalp":
        return {"male": "norwood", "female": "ludwig"}.get(sex, "sinclair")
    if treatment == "microneedling_prp":
        return rng.choice(["glogau", "goodman_baron"])
    return "fitzpatrick_wrinkle"


def _copy_rows(cursor: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into ``model``'s table; a column a row lacks gets the field's default (as the ORM would)."""
    from django.db import models

    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    jsons = {f.attname for f in fields if isinstance(f, models.JSONField)}
    columns = sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(model._meta.db_table), columns)
    with cursor.copy(statement) as copy:
        for row in rows:
            values = [row.get(name, defaults[name]) for name in names]
            copy.write_row([json.dumps(v) if name in jsons else v for name, v in zip(names, values, strict=True)])


def _write_history(cursor: Any, history: History) -> tuple[int, dict[str, tuple[int, str]]]:
    """COPY the events (numbered by time) and their seals; returns the count and each chain's head."""
    from prpclinic.audit.models import chain_key_for
    from prpclinic.audit.services import event_hmac

    rng = history.rng
    events = sorted(history.events, key=lambda e: e[0])
    heads: dict[str, tuple[int, str]] = {}
    seals: list[tuple[int, str, int, str, dt.datetime]] = []
    columns = sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
    with cursor.copy(sql.SQL("COPY audit_auditevent ({}) FROM STDIN").format(columns)) as copy:
        for event_id, (at, clinic_id, actor, action, object_type, object_id, changes) in enumerate(events, start=1):
            key = chain_key_for(clinic_id)
            ip = f"10.{clinic_id or 0}.0.{rng.randint(20, 60)}" if actor else f"203.0.113.{rng.randint(1, 254)}"
            role = actor.role if actor else ""
            label = actor.email if actor else ""
            actor_id = actor.user_id if actor else None
            copy.write_row(
                (
                    event_id,
                    clinic_id,
                    key,
                    actor_id,
                    label,
                    role,
                    action,
                    object_type,
                    object_id,
                    json.dumps(changes),
                    ip,
                    at,
                )
            )
            # The same HMAC the app computes when it seals (audit.services.event_hmac), over the
            # columns it reads; a plain namespace, as a model instance per event costs a minute.
            event = SimpleNamespace(
                pk=event_id,
                clinic_id=clinic_id,
                chain_key=key,
                actor_id=actor_id,
                actor_label=label,
                role=role,
                action=action,
                object_type=object_type,
                object_id=object_id,
                changes=changes,
                source_ip=ip,
                created_at=at,
            )
            seq, previous = heads.get(key, (0, ""))
            mac = event_hmac(chain_key=key, seq=seq + 1, previous=previous, event=event)
            heads[key] = (seq + 1, mac)
            seals.append((event_id, key, seq + 1, mac, at + dt.timedelta(milliseconds=rng.randint(2, 40))))
    with cursor.copy("COPY audit_auditseal (event_id, chain_key, seq, hmac, sealed_at) FROM STDIN") as copy:
        for seal in seals:
            copy.write_row(seal)
    # The generator seals its events itself (above); since the insert trigger (audit migration
    # 0003) every inserted event also gets a pending marker, which would only make the first
    # sealer re-read them: remove them.
    cursor.execute("DELETE FROM audit_auditpending")
    return len(events), heads


def _hire(plan: ClinicPlan, clinic: Any, firsts: list[dt.datetime], staff: list[Staff], count: int) -> list[Staff]:
    """The physicians the schedule needed beyond the planned ones, each invited weeks before their first patient."""
    from prpclinic.clinics.models import Membership, User

    hired = []
    for n, first in enumerate(firsts, start=count + 1):
        since = first - dt.timedelta(days=21)
        email = f"physician{n}@{plan.slug}.bench.test"
        user = User(email=email, full_name=f"Physician {n} ({plan.prefix})")
        user.set_unusable_password()
        user.save()
        Membership.objects.create(clinic=clinic, user=user, role=PHYSICIAN, created_at=since)
        hired.append(Staff(user.pk, email, PHYSICIAN, clinic.pk, since))
    staff.extend(hired)
    return hired


def _generate(patients: int) -> dict[str, str]:
    from django.db import connection

    from prpclinic.audit.models import AuditChain, chain_key_for
    from prpclinic.clinics.models import Clinic, Membership, User
    from prpclinic.consents.models import SignedConsent
    from prpclinic.intake.models import Screening
    from prpclinic.outcomes.models import Score
    from prpclinic.scheduling.models import Appointment, Room
    from prpclinic.treatments.models import PlanChange, PlannedSession, TreatmentPlan
    from prpclinic.visits.models import Visit

    rng = random.Random(SEED)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    history = History(rng, now)
    staff: list[Staff] = []
    opened: dict[int, dt.datetime] = {}
    clinics: list[tuple[ClinicPlan, Clinic]] = []
    setups: dict[int, ClinicSetup] = {}
    for plan in CLINICS:
        start = now - dt.timedelta(days=365 * plan.years)
        clinic = Clinic.objects.create(
            name=plan.name, slug=plan.slug, timezone=CLINIC_ZONE, mrn_prefix=plan.prefix, created_at=start
        )
        opened[clinic.pk] = start
        clinics.append((plan, clinic))
        setups[clinic.pk] = _setup_clinic(clinic, start, history)
        for role, count in plan.staff.items():
            for n in range(1, count + 1):
                email = f"{role.replace('_', '')}{n}@{plan.slug}.bench.test"
                user = User(email=email, full_name=f"{role.replace('_', ' ').title()} {n} ({plan.prefix})")
                user.set_unusable_password()  # sessions are made directly; nobody signs in with a password
                user.save()
                Membership.objects.create(clinic=clinic, user=user, role=role, created_at=start)
                staff.append(Staff(user.pk, email, role, clinic.pk))
    # Some staff work at two clinics, so the clinic switcher appears on their pages.
    main, second = clinics[0][1], clinics[1][1]
    for member in [s for s in staff if s.clinic_id == main.pk and s.role in (PHYSICIAN, NURSE)][::4]:
        Membership.objects.create(clinic=second, user_id=member.user_id, role=member.role)
        staff.append(Staff(member.user_id, member.email, member.role, second.pk))

    rows: list[tuple[Any, ...]] = []
    ranges: dict[int, tuple[int, int]] = {}
    for plan, clinic in clinics:
        count = max(1, round(patients * plan.share))
        first = len(rows) + 1
        members = [s for s in staff if s.clinic_id == clinic.pk]
        rows += _patients(plan, clinic.pk, count, first, members, history)
        ranges[clinic.pk] = (first, first + count - 1)
        Clinic.objects.filter(pk=clinic.pk).update(mrn_counter=count)

    # Appointments need a clinician and a room each, without overlaps: the schedule says how many.
    physicians = {c.pk: [s.user_id for s in staff if s.clinic_id == c.pk and s.role == PHYSICIAN] for _, c in clinics}
    schedule = _schedule(history, setups, physicians)
    hired: dict[int, list[Staff]] = {}
    rooms: dict[int, list[int]] = {}
    for plan, clinic in clinics:
        hired[clinic.pk] = _hire(plan, clinic, schedule.hired[clinic.pk], staff, plan.staff[PHYSICIAN])
        made = Room.objects.bulk_create(
            Room(clinic=clinic, name=f"Treatment room {n}")
            for n in range(1, max(schedule.rooms.get(clinic.pk, 0), 1) + 1)
        )
        rooms[clinic.pk] = [room.pk for room in made]
    _staff_history(staff, opened, history)

    names = {row[0]: f"{row[3]} {row[4]}" for row in rows}
    clinical = Clinical(history, setups, schedule, staff, names, rooms, hired)
    clinical.inactive = {row[0] for row in rows if not row[PATIENT_COLUMNS.index("is_active")]}
    for index, course in enumerate(history.courses):
        clinical.course(index, course)
    for clinic_id, pid, registered in history.unseen:
        clinical.unseen(clinic_id, pid, registered)
    new = clinical.rows

    with connection.cursor() as cursor:
        columns = sql.SQL(", ").join(map(sql.Identifier, PATIENT_COLUMNS))
        with cursor.copy(sql.SQL("COPY patients_patient ({}) FROM STDIN").format(columns)) as copy:
            for row in rows:
                copy.write_row(row)
        events, heads = _write_history(cursor, history)
    # Through the ORM, so that columns the app adds later (with defaults) are filled in.
    completed = {v[0]: v for v in history.visits if v[6] == "completed"}
    minutes = {c: {k: sum(m) for k, m in s.minutes.items()} for c, s in setups.items()}
    Visit.objects.bulk_create(
        (
            Visit(
                id=v,
                clinic_id=c,
                patient_id=p,
                treatment=t,
                clinician_id=u,
                started_at=at,
                created_at=at,
                status=st,
                protocol_id=setups[c].protocol_ids[t],
                completed_at=at + dt.timedelta(minutes=minutes[c][t]) if v in completed else None,
                completed_by_id=u if v in completed else None,
            )
            for v, c, p, t, u, at, st in history.visits
        ),
        batch_size=5000,
    )
    tables = {
        Screening: new.screenings,
        SignedConsent: new.consents,
        TreatmentPlan: new.plans,
        PlannedSession: new.sessions,
        PlanChange: new.changes,
        Appointment: new.appointments,
        Score: new.scores,
    }
    with connection.cursor() as cursor:
        for model, table_rows in tables.items():
            _copy_rows(cursor, model, table_rows)
        serial = ["patients_patient", "audit_auditevent", "visits_visit"] + [m._meta.db_table for m in tables]
        for table in serial:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    AuditChain.objects.bulk_create(AuditChain(key=k, last_seq=s, last_hmac=h) for k, (s, h) in heads.items())
    first, last = ranges[main.pk]
    counts = {
        "visits": len(history.visits),
        "screenings": len(new.screenings),
        "consents": len(new.consents),
        "plans": len(new.plans),
        "planned_sessions": len(new.sessions),
        "plan_changes": len(new.changes),
        "appointments": len(new.appointments),
        "scores": len(new.scores),
        "hired_physicians": sum(len(h) for h in hired.values()),
        "rooms": sum(len(r) for r in rooms.values()),
    }
    return {
        "main_clinic_id": str(main.pk),
        "first_patient_id": str(first),
        "last_patient_id": str(last),
        "patients_total": str(len(rows)),
        "events": str(events),
        "smallest_chain": chain_key_for(clinics[-1][1].pk),
    } | {key: str(value) for key, value in counts.items()}


def _set_meta(url: str, values: dict[str, str]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        for key, value in values.items():
            conn.execute(
                "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )


def _recreate_database(url: str) -> None:
    """Create the bench database afresh; drop an old one only if the generator made it (or it is empty)."""
    name = database_name(url)
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            if read_meta(url) is None:
                with psycopg.connect(url) as bench:
                    tables = bench.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
                if tables and tables[0]:
                    raise SystemExit(f"Database {name!r} exists and was not made by bench.generate; not touching it.")
            # WITH (FORCE): a server left running by an interrupted benchmark may still be connected.
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure(patients: int, *, force: bool = False) -> None:
    """Make sure the bench database holds a complete generated data set of ``patients`` patients."""
    url = database_url()
    if not force and is_ready(read_meta(url), patients):
        print(f"Bench database {database_name(url)} with {patients:,} patients is ready; keeping it.")
        return
    started = time.monotonic()
    print(f"Generating the bench database {database_name(url)} with {patients:,} patients...")
    _recreate_database(url)
    # The audit key is kept with the data, so that the chains stay verifiable across runs.
    audit_key = secrets.token_urlsafe(48)
    os.environ.update(django_env(url=url, secret_key=secrets.token_urlsafe(50), audit_key=audit_key))
    import django
    from django.core.management import call_command
    from django.db import connection, transaction

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    migrations = json.dumps(migration_digests())
    _set_meta(
        url, {"version": GENERATOR_VERSION, "state": "generating", "audit_key": audit_key, "migrations": migrations}
    )
    with transaction.atomic():
        meta = _generate(patients)
    connection.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # statistics and visibility map, as a long-running database has

    from prpclinic.audit.services import audit_verify_chain

    for key in (meta["smallest_chain"], "global"):  # the smallest chains: a cheap check of the seals
        report = audit_verify_chain(key=key)
        if not report.ok:
            raise SystemExit(f"Generated audit chain {key} does not verify: {report.problem}")
    _set_meta(
        url, meta | {"patients": str(patients), "state": "complete", "generated_at": dt.datetime.now(UTC).isoformat()}
    )
    print(
        f"Generated {int(meta['patients_total']):,} patients in {len(CLINICS)} clinics, "
        f"{int(meta['visits']):,} visits, {int(meta['plans']):,} treatment plans, "
        f"{int(meta['screenings']):,} screenings, {int(meta['consents']):,} consents, "
        f"{int(meta['appointments']):,} appointments, {int(meta['scores']):,} scores and "
        f"{int(meta['events']):,} sealed audit events in {time.monotonic() - started:.0f} s."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=default_patients(), help="patients of the main clinic")
    parser.add_argument("--force", action="store_true", help="rebuild even if a complete database exists")
    args = parser.parse_args(argv)
    ensure(args.patients, force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
