"""Reads of visits and their charting, scoped to the clinic, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from prpclinic.db import compiled_read
from prpclinic.links import address
from prpclinic.visits import bodymaps
from prpclinic.visits.models import TreatmentKind, Visit, ZoneEntry

# PRP volumes must add up within 0.05 mL. Each volume is recorded to 0.01 mL: the application
# per zone and the chart per zone, and one application's PRP is often split over several
# charted zones (each rounded on its own), so a few hundredths can differ without any PRP being
# unaccounted for. 0.05 mL absorbs the rounding of up to five split zones and no more.
PRP_TOLERANCE_ML = Decimal("0.05")
TIMELINE_LIMIT = 50


def patient_visits(*, clinic_id: int, patient_id: int, limit: int = 20) -> list[Visit]:
    return list(
        Visit.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("clinician")
        .order_by("-started_at")[:limit]
    )


def visit_get(*, clinic_id: int, visit_id: int) -> Visit:
    """The clinic's visit with its patient, clinician and protocol; another clinic's answers 404."""
    visit = (
        Visit.objects.select_related("patient", "clinician", "completed_by", "protocol__treatment")
        .filter(pk=visit_id, clinic_id=clinic_id)
        .first()
    )
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


def protocol_of(visit: Visit, *, seed: bool = True) -> Any:
    """The protocol version the visit is charted under: its own, or (older rows) the current one.

    ``seed=False`` (pages that only read) never writes: a clinic whose catalogue was never set
    up gets None instead of the starting catalogue being written during a GET.
    """
    if visit.protocol_id is not None:
        return visit.protocol
    from prpclinic.treatments.models import Protocol
    from prpclinic.treatments.selectors import current_protocol

    if seed:
        return current_protocol(clinic_id=visit.clinic_id, kind=visit.treatment)
    return (
        Protocol.objects.select_related("treatment")
        .filter(clinic_id=visit.clinic_id, treatment__kind=visit.treatment, is_current=True)
        .first()
    )


@dataclass
class Charting:
    """Everything the visit page and the visit summary show of a visit's charting.

    ``zones``: the protocol's zones in order, each a dict of the protocol's keys plus ``entry``
    (the current ZoneEntry or None) and ``history`` (superseded entries, oldest first).
    ``maps``: the drawings (see ``bodymaps.map_view``) with the same zone dicts.
    ``entries``: the current entries in charting order. Volumes are Decimals in mL.
    """

    visit: Visit
    protocol: Any
    zones: list[dict[str, Any]] = field(default_factory=list)
    maps: list[dict[str, Any]] = field(default_factory=list)
    entries: list[ZoneEntry] = field(default_factory=list)
    superseded: list[ZoneEntry] = field(default_factory=list)
    prp_charted_ml: Decimal = Decimal("0.00")
    prp_applied_ml: Decimal = Decimal("0.00")
    cocktail_ml: Decimal = Decimal("0.00")
    # The visit's PRP applications (chain of custody), each with ``product`` fetched and
    # ``charted_ml`` set: the PRP of the zone entries linked to it.
    applications: list[Any] = field(default_factory=list)

    @property
    def prp_difference_ml(self) -> Decimal:
        return self.prp_charted_ml - self.prp_applied_ml

    @property
    def prp_balanced(self) -> bool:
        return abs(self.prp_difference_ml) <= PRP_TOLERANCE_ML

    @property
    def uses_prp(self) -> bool:
        return self.visit.treatment != TreatmentKind.MESOTHERAPY

    @property
    def warned_entries(self) -> list[ZoneEntry]:
        return [entry for entry in self.entries if entry.warnings]


def _ml(value: Decimal) -> Decimal:
    # Both sides shown to 0.01 mL, as recorded, whatever the database's SUM returns.
    return Decimal(value).quantize(Decimal("0.01"))


def visit_charting(*, clinic_id: int, visit_id: int, visit: Visit | None = None, seed: bool = True) -> Charting:
    """The visit's charting: current entry per zone, the superseded history, and the PRP sums.

    Three queries whatever the number of entries (visit, entries, PRP applications), plus the
    protocol's when an older visit has none of its own. Pass ``visit`` when already fetched;
    ``seed=False`` for read-only pages (see ``protocol_of``): ``protocol`` may then be None.
    """
    if visit is None:
        visit = visit_get(clinic_id=clinic_id, visit_id=visit_id)
    protocol = protocol_of(visit, seed=seed)
    rows = list(
        ZoneEntry.objects.filter(clinic_id=clinic_id, visit_id=visit.pk)
        .select_related("entered_by", "cocktail", "vial_lot", "application__product")
        .order_by("entered_at", "id")
    )
    applications = list(
        visit.prp_applications.filter(clinic_id=clinic_id).select_related("product").order_by("applied_at", "id")
    )
    current = {(row.map, row.zone): row for row in rows if row.is_current}
    history: dict[tuple[str, str], list[ZoneEntry]] = {}
    for row in rows:
        if not row.is_current:
            history.setdefault((row.map, row.zone), []).append(row)
    zones = []
    for spec in protocol.zones if protocol is not None else []:
        key = (spec.get("map", ""), spec["code"])
        zones.append({**spec, "entry": current.get(key), "history": history.get(key, [])})
    maps = []
    for map_name in dict.fromkeys(zone.get("map", "") for zone in zones):
        maps.append(bodymaps.map_view(map_name, [z for z in zones if z.get("map", "") == map_name]))
    entries = [row for row in rows if row.is_current]
    for application in applications:
        application.charted_ml = _ml(
            sum((e.prp_volume_ml or Decimal(0) for e in entries if e.application_id == application.pk), Decimal(0))
        )
    return Charting(
        visit=visit,
        protocol=protocol,
        zones=zones,
        maps=maps,
        entries=entries,
        superseded=[row for row in rows if not row.is_current],
        prp_charted_ml=_ml(sum((e.prp_volume_ml or Decimal(0) for e in entries), Decimal(0))),
        prp_applied_ml=_ml(sum((a.volume_applied_ml for a in applications), Decimal(0))),
        cocktail_ml=_ml(sum((e.volume_ml or Decimal(0) for e in entries), Decimal(0))),
        applications=applications,
    )


# What the chart's visits table and timeline show of a visit and its clinician: a third less
# work to build the statement than the two whole rows (measured 1.5 -> 1.0 ms).
CHART_VISIT_FIELDS = (
    "id", "clinic_id", "patient_id", "treatment", "status", "started_at", "clinician_id",
    "clinician__id", "clinician__full_name",
)  # fmt: skip


def chart_visits(*, clinic_id: int, patient_id: int, limit: int = TIMELINE_LIMIT) -> list[Visit]:
    """The patient's latest visits with their clinician and ``zones_charted`` (one query).

    The chart reads them once: its visits table shows the first 20, its timeline all of them.
    Only ``CHART_VISIT_FIELDS`` are read: any other field read later costs a query per visit.
    """
    return _chart_visits(clinic_id=clinic_id, patient_id=patient_id, limit=limit)


@compiled_read(limit=TIMELINE_LIMIT)
def _chart_visits(clinic_id: int, patient_id: int) -> QuerySet[Visit]:
    return (
        Visit.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("clinician")
        .only(*CHART_VISIT_FIELDS)
        .annotate(zones_charted=Count("zone_entries", filter=Q(zone_entries__is_current=True)))
        .order_by("-started_at")
    )


def timeline_items(*, clinic_id: int, patient_id: int, visits: list[Visit] | None = None) -> list[dict[str, Any]]:
    """The patient's visits for the chart's timeline (newest first, at most 50); one query.

    ``visits``: the rows of ``chart_visits`` when the chart has read them already (no query then).
    """
    if visits is None:
        visits = chart_visits(clinic_id=clinic_id, patient_id=patient_id)
    items: list[dict[str, Any]] = []
    for visit in visits[:TIMELINE_LIMIT]:
        at: dt.datetime = visit.started_at
        state = visit.get_status_display()
        detail = f"{state}; {visit.zones_charted} zone(s) charted; clinician {visit.clinician.full_name}."
        items.append(
            {
                "at": at,
                "kind": "visit",
                "title": f"{visit.get_treatment_display()} visit",
                "detail": detail,
                "url": address("visit_detail", visit.pk),
            }
        )
    return items
