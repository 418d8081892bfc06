"""Generate the benchmark database: one large clinic, two smaller ones, their staff and history.

    python -m bench.generate [--patients 100000] [--force]

The database (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/prpclinic_bench``)
is created if missing and migrated with ``prpclinic migrate``. A complete one with the same
number of patients is kept as it is; an incomplete or different one is dropped and rebuilt.

History, over the clinics' years of operation: each patient's registration, visits (a PRP or
mesotherapy series, then maintenance), later changes (with old and new values), chart
openings, some deactivations and merges; staff invitations,
logins and logouts; a few failed logins of unknown names. Every event is sealed into its
chain exactly as the app seals it (same HMAC), so ``prpclinic verify_audit`` passes on it.
Rows go in with COPY and explicit ids: 100,000 patients take about a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import secrets
import time
from dataclasses import dataclass
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


# (created_at, clinic_id, actor, action, object_type, object_id, changes)
Event = tuple[dt.datetime, int | None, Staff | None, str, str, str, dict[str, Any]]


class History:
    """Collects events in any order; they are numbered by time when written."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng, self.now = rng, now
        self.events: list[Event] = []
        # (id, clinic_id, patient_id, treatment, clinician_id, started_at, status)
        self.visits: list[tuple[int, int, int, str, int, dt.datetime, str]] = []

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

    def work_time(self, after: dt.datetime, before: dt.datetime | None = None) -> dt.datetime:
        """A moment in opening hours (07:00-18:00 UTC) between ``after`` and ``before`` (or now)."""
        end = before or self.now
        span = max((end - after).total_seconds(), 1.0)
        moment = after + dt.timedelta(seconds=self.rng.random() * span)
        moment = moment.replace(
            hour=self.rng.randint(7, 17), minute=self.rng.randint(0, 59), second=self.rng.randint(0, 59)
        )
        if moment <= after or moment >= end:  # the day's hour moved it out of range
            moment = after + dt.timedelta(seconds=self.rng.uniform(1, min(span, 5400)))
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
        _visits(history, clinic_id, pid, created, staff)
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


def _visits(history: History, clinic_id: int, pid: int, registered: dt.datetime, staff: list[Staff]) -> None:
    """Most patients come for a series (PRP: about monthly), some later for a maintenance session."""
    rng = history.rng
    if rng.random() < 0.3:
        return
    treatment = rng.choice(["prp_scalp", "prp_scalp", "microneedling_prp", "mesotherapy"])
    clinician = _pick(rng, staff, PHYSICIAN)
    sessions = rng.choices([1, 2, 3, 4, 6], weights=[15, 15, 35, 25, 10])[0]
    at = history.work_time(registered, registered + dt.timedelta(days=30))
    for n in range(sessions):
        if at >= history.now:
            break
        visit_id = len(history.visits) + 1
        status = "completed" if at < history.now - dt.timedelta(hours=12) else "open"
        history.visits.append((visit_id, clinic_id, pid, treatment, clinician.user_id, at, status))
        history.add(at, clinician, clinic_id, "visit.start", "visits.visit", visit_id, {"treatment": treatment})
        gap = 180 if n >= 3 else 30  # the series, then maintenance
        at = history.work_time(at + dt.timedelta(days=gap - 3), at + dt.timedelta(days=gap + 4))


def _staff_history(staff: list[Staff], opened: dict[int, dt.datetime], history: History) -> None:
    """Invitations when each clinic opened, then a login every few working days, most with a logout."""
    rng = history.rng
    admins = {s.clinic_id: s for s in staff if s.role == ADMIN}
    for member in staff:
        start = opened[member.clinic_id]
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


def _write_history(cursor: Any, history: History) -> tuple[int, dict[str, tuple[int, str]]]:
    """COPY the events (numbered by time) and their seals; returns the count and each chain's head."""
    from prpclinic.audit.models import AuditEvent, chain_key_for
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
            # The same HMAC the app computes when it seals (audit.services.event_hmac).
            event = AuditEvent(
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
    return len(events), heads


def _generate(patients: int) -> dict[str, str]:
    from django.db import connection

    from prpclinic.audit.models import AuditChain, chain_key_for
    from prpclinic.clinics.models import Clinic, Membership, User
    from prpclinic.visits.models import Visit

    rng = random.Random(SEED)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    history = History(rng, now)
    staff: list[Staff] = []
    opened: dict[int, dt.datetime] = {}
    clinics: list[tuple[ClinicPlan, Clinic]] = []
    for plan in CLINICS:
        start = now - dt.timedelta(days=365 * plan.years)
        clinic = Clinic.objects.create(
            name=plan.name, slug=plan.slug, timezone="Europe/Vienna", mrn_prefix=plan.prefix, created_at=start
        )
        opened[clinic.pk] = start
        clinics.append((plan, clinic))
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
    _staff_history(staff, opened, history)

    with connection.cursor() as cursor:
        columns = sql.SQL(", ").join(map(sql.Identifier, PATIENT_COLUMNS))
        with cursor.copy(sql.SQL("COPY patients_patient ({}) FROM STDIN").format(columns)) as copy:
            for row in rows:
                copy.write_row(row)
        events, heads = _write_history(cursor, history)
    # Through the ORM, so that columns the app adds later (with defaults) are filled in.
    Visit.objects.bulk_create(
        (
            Visit(id=v, clinic_id=c, patient_id=p, treatment=t, clinician_id=u, started_at=at, created_at=at, status=st)
            for v, c, p, t, u, at, st in history.visits
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        for table in ("patients_patient", "audit_auditevent", "visits_visit"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    AuditChain.objects.bulk_create(AuditChain(key=k, last_seq=s, last_hmac=h) for k, (s, h) in heads.items())
    first, last = ranges[main.pk]
    return {
        "main_clinic_id": str(main.pk),
        "first_patient_id": str(first),
        "last_patient_id": str(last),
        "patients_total": str(len(rows)),
        "events": str(events),
        "visits": str(len(history.visits)),
        "smallest_chain": chain_key_for(clinics[-1][1].pk),
    }


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
        f"{int(meta['visits']):,} visits and {int(meta['events']):,} sealed audit events "
        f"in {time.monotonic() - started:.0f} s."
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
