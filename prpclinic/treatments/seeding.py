"""Writing the starting catalogue (``treatments.catalogue``) into a clinic's tables."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic
from prpclinic.treatments import catalogue
from prpclinic.treatments.models import Cocktail, Protocol, Treatment


def seed_catalogue(*, clinic: Clinic) -> dict[str, Any]:
    """Give ``clinic`` the starting catalogue where it lacks it. Idempotent; never overwrites.

    Side effects: creates the missing treatments, a protocol v1 for each treatment without any
    protocol, and the example cocktails when the clinic has no cocktail at all; audits
    ``catalogue.seed`` (system action, no actor) when anything was created. The clinic row is
    locked meanwhile so two first requests cannot seed twice.
    """
    created: dict[str, Any] = {"treatments": [], "protocols": [], "cocktails": []}
    with transaction.atomic():
        Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
        existing = {t.kind: t for t in Treatment.objects.filter(clinic=clinic)}
        with_protocol = set(Protocol.objects.filter(clinic=clinic).values_list("treatment_id", flat=True))
        for kind, values in catalogue.protocols().items():
            treatment = existing.get(kind)
            if treatment is None:
                summary, text = catalogue.PATIENT_TEXT[kind]
                treatment = Treatment(clinic=clinic, kind=kind, name=catalogue.NAMES[kind], summary=summary,
                                      patient_text=text)  # fmt: skip
                treatment.full_clean()
                treatment.save()
                created["treatments"].append(kind)
            if treatment.pk not in with_protocol:
                protocol = Protocol(clinic=clinic, treatment=treatment, version=1, is_current=True,
                                    change_note="Starting catalogue", **values)  # fmt: skip
                protocol.full_clean()
                protocol.save()
                created["protocols"].append(kind)
        if not Cocktail.objects.filter(clinic=clinic).exists():
            for item in catalogue.COCKTAILS:
                Cocktail.objects.create(clinic=clinic, **item)
                created["cocktails"].append(item["name"])
        if any(created.values()):
            audit_record(action="catalogue.seed", clinic=clinic, obj=clinic, changes=created)
    return created
