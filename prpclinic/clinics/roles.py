"""What each role may do: the one table of permissions in prpclinic.

Every view and service asks this table (through ``clinics.access``); nothing else grants
rights. ``docs/roles.md`` is rendered from it by ``prpclinic roles_doc`` and a test keeps the
two identical. Later capabilities (PRP chain, treatments, scheduling, outcomes) add rows here.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"
    PHYSICIAN = "physician", "Physician"
    NURSE = "nurse", "Nurse"
    FRONT_DESK = "front_desk", "Front desk"


ADMIN = Role.CLINIC_ADMIN
PHYSICIAN = Role.PHYSICIAN
NURSE = Role.NURSE
FRONT_DESK = Role.FRONT_DESK
EVERYONE = frozenset(Role)

# Roles whose accounts must use two-factor authentication (they can change who works here,
# or take clinical decisions). Others may enrol voluntarily.
TWO_FACTOR_REQUIRED: frozenset[Role] = frozenset({ADMIN, PHYSICIAN})

# permission -> (what it allows, roles that hold it)
PERMISSIONS: dict[str, tuple[str, frozenset[Role]]] = {
    "patient.view": ("Find patients and open the chart (demographics).", EVERYONE),
    "patient.view_clinical": (
        "See clinical fields on the chart: allergies, medications, notes.",
        frozenset({ADMIN, PHYSICIAN, NURSE}),
    ),
    "patient.create": ("Register a new patient.", EVERYONE),
    "patient.edit": ("Change a patient's demographics and contact details.", EVERYONE),
    "patient.edit_clinical": (
        "Change allergies, medications, skin type and notes.",
        frozenset({ADMIN, PHYSICIAN, NURSE}),
    ),
    "patient.merge": ("Merge a duplicate registration into another record.", frozenset({ADMIN, PHYSICIAN})),
    "patient.deactivate": ("Deactivate or reactivate a patient record.", frozenset({ADMIN, PHYSICIAN})),
    "staff.manage": ("Invite staff, change their roles, deactivate them.", frozenset({ADMIN})),
    "visit.start": ("Start a treatment visit for a patient.", frozenset({PHYSICIAN, NURSE})),
    "catalogue.view": ("See the treatment catalogue: protocols, zones, formulary.", EVERYONE),
    "catalogue.edit": (
        "Edit treatment protocols, zones and the mesotherapy formulary (a new version each time).",
        frozenset({ADMIN, PHYSICIAN}),
    ),
    "catalogue.vials": ("Register mesotherapy vial lots.", frozenset({ADMIN, PHYSICIAN, NURSE})),
    "plan.view": ("See a patient's treatment plans (series) and their progress.", EVERYONE),
    "plan.edit": ("Create a treatment plan and change it, with a reason.", frozenset({PHYSICIAN, NURSE})),
    "screening.record": ("Screen a patient for contraindications.", frozenset({PHYSICIAN, NURSE})),
    "screening.review": (
        "Review a relative contraindication and clear the patient, with a written reason.",
        frozenset({PHYSICIAN}),
    ),
    "screening.settings": (
        "Set how long screenings stay valid and the clinic's own rule windows and thresholds.",
        frozenset({ADMIN, PHYSICIAN}),
    ),
    "screening.intake": (
        "Review questionnaires patients sent from the website and file them in the chart.",
        frozenset({PHYSICIAN, NURSE}),
    ),
    "consent.view": ("See a patient's consents and their signed documents.", EVERYONE),
    "consent.sign": ("Take a patient's consent signature on the tablet; record a revocation.", EVERYONE),
    "consent.templates": ("Write consent templates (a new version each time).", frozenset({ADMIN, PHYSICIAN})),
    "visit.chart": (
        "Chart micro-needling and scalp PRP on the body maps: zones, depth, passes, volumes.",
        frozenset({PHYSICIAN, NURSE}),
    ),
    "visit.mesotherapy": ("Chart mesotherapy injections (a physician-only procedure).", frozenset({PHYSICIAN})),
    "visit.adverse": ("Record an adverse event and its outcome.", frozenset({PHYSICIAN, NURSE})),
    "visit.complete": ("Complete a visit and hand out aftercare.", frozenset({PHYSICIAN, NURSE})),
    "aftercare.send": ("Print or e-mail a patient's aftercare instructions.", EVERYONE),
    "schedule.view": ("See the calendar: appointments per clinician and room, today's list.", EVERYONE),
    "schedule.book": (
        "Book, move, check in, cancel or mark no-show an appointment; book a treatment series.",
        EVERYONE,
    ),
    "schedule.resources": (
        "Set up rooms, clinicians' working hours and absences, and centrifuge slots for booking.",
        frozenset({ADMIN}),
    ),
    "schedule.feed": ("Have a private calendar feed of one's own appointments; revoke it.", EVERYONE),
    "reminders.manage": ("Set when reminders go out and read the reminder log.", frozenset({ADMIN})),
    "fhir.tokens": (
        "Issue and revoke FHIR access tokens for staff and other systems; read their use.",
        frozenset({ADMIN}),
    ),
    "patient.export": (
        "Export one patient's whole record (FHIR Bundle with photos and signed PDFs).",
        frozenset({ADMIN, PHYSICIAN}),
    ),
    "data.export": ("Start and download a bulk FHIR export of the clinic.", frozenset({ADMIN})),
    "data.import": ("Import patients and appointments from another system (FHIR Bundle or CSV).", frozenset({ADMIN})),
    "outcome.view": ("See a patient's photos, scale scores and progress charts.", frozenset({ADMIN, PHYSICIAN, NURSE})),
    "outcome.record": ("Take or upload photos and record scale scores.", frozenset({PHYSICIAN, NURSE})),
    "outcome.analytics": (
        "See the clinic's outcome analytics per treatment and protocol; export CSV.",
        frozenset({ADMIN, PHYSICIAN}),
    ),
    "prp.view": ("See the PRP day board, products and their trace.", EVERYONE),
    "prp.devices": ("Add and edit centrifuges and spin programs.", frozenset({ADMIN, PHYSICIAN})),
    "prp.lots": ("Register kit and tube lots.", frozenset({ADMIN, PHYSICIAN, NURSE})),
    "prp.recall": ("Recall a lot and list who it was used for.", frozenset({ADMIN, PHYSICIAN})),
    "prp.handle": (
        "Draw blood, spin, prepare, label, verify at the bedside, apply, discard, quarantine.",
        frozenset({PHYSICIAN, NURSE}),
    ),
    "prp.release": ("Release a quarantined product, or discard it, after an incident.", frozenset({PHYSICIAN})),
    "prp.incidents": ("Read the incident list.", frozenset({ADMIN, PHYSICIAN})),
    "audit.view": ("Read and export the clinic's audit trail.", frozenset({ADMIN})),
}


def allows(role: str | None, permission: str) -> bool:
    """True when ``role`` holds ``permission``. Unknown permissions raise: a typo must not pass."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role is not None and role in PERMISSIONS[permission][1]


def permissions_of(role: str) -> list[str]:
    return [name for name, (_, roles) in PERMISSIONS.items() if role in roles]


def render_markdown() -> str:
    """The role table as Markdown, for docs/roles.md."""
    roles = list(Role)
    lines = [
        "# Roles and what they may do",
        "",
        "Generated from `prpclinic/clinics/roles.py` by `prpclinic roles_doc`; do not edit by hand.",
        "",
        "| permission | what it allows | " + " | ".join(r.label for r in roles) + " |",
        "|---|---|" + "---|" * len(roles),
    ]
    for name, (text, holders) in PERMISSIONS.items():
        marks = " | ".join("yes" if r in holders else "–" for r in roles)
        lines.append(f"| `{name}` | {text} | {marks} |")
    lines += [
        "",
        "Two-factor authentication (TOTP) is required for: "
        + ", ".join(r.label for r in roles if r in TWO_FACTOR_REQUIRED)
        + "; optional for the others.",
        "",
    ]
    return "\n".join(lines)
