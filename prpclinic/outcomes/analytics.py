"""The clinic's outcome analytics: change from baseline after N sessions, per treatment, protocol and PRP band.

Definitions (also in docs/outcomes.md):
- A *session* is a visit of the chosen treatment (not cancelled). A score's sessions-before is the
  number of such visits the patient started on an earlier day than the score's date.
- *Baseline* is the patient's first current score on the scale with no session before it.
- *After N sessions* is the patient's first later score with at least N sessions before it.
- The change is follow-up minus baseline: in the scale's unit for numeric scales, in steps of the
  scale for ordinal ones (for example Ludwig II -> I is -1).
- Patients are grouped by the protocol version of their latest plan of that treatment and by the
  PRP concentration band (Everts 2020, IJMS 21:7794, Table 3 [V]) of the mean platelet count of
  the products applied to them in those sessions; "not measured" when no count was recorded.
Reads run in a fixed number of queries (scores, visits, plans, products), each bounded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from prpclinic.outcomes import scales
from prpclinic.outcomes.models import Score, ScoreStatus
from prpclinic.outcomes.stats import Summary, mean_change
from prpclinic.visits.models import Visit, VisitStatus

ROW_LIMIT = 50_000
# A display threshold, not a clinical number: below it no mean or interval is shown.
MIN_N = 5

# Everts 2020 Table 3 [V]: platelet concentration bands in 10^6/mL, which equals 10^3/µL.
EVERTS_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(500), "0–500 ×10³/µL"),
    (Decimal(1000), "500–1000 ×10³/µL"),
    (Decimal(1500), "1000–1500 ×10³/µL"),
)
EVERTS_TOP = ">1500 ×10³/µL"
BAND_SOURCE = "Everts 2020, IJMS 21:7794, Table 3 [V]"
NOT_MEASURED = "not measured"


def everts_band(platelets_k_per_ul: Decimal | None) -> str:
    if platelets_k_per_ul is None:
        return NOT_MEASURED
    for upper, label in EVERTS_BANDS:
        if platelets_k_per_ul <= upper:
            return label
    return EVERTS_TOP


def min_n() -> int:
    return int(getattr(settings, "OUTCOMES_ANALYTICS_MIN_N", MIN_N))


@dataclass
class PatientChange:
    patient_id: int
    baseline: Score
    follow_up: Score
    change: float
    sessions: int
    protocol: str
    band: str


@dataclass
class Group:
    protocol: str
    band: str
    changes: list[PatientChange] = field(default_factory=list)
    summary: Summary | None = None


@dataclass
class Analysis:
    scale: scales.Scale
    treatment: str
    sessions: int
    rater: str
    variant: str
    overall: Summary
    groups: list[Group]
    patients: list[PatientChange]
    min_n: int
    band_source: str = BAND_SOURCE


def _position(scale: scales.Scale, score: Score) -> float | None:
    if scale.kind == scales.ORDINAL:
        position = scale.position(score.level, score.variant)
        return float(position) if position is not None else None
    return float(score.value) if score.value is not None else None


def change_from_baseline(
    *, clinic_id: int, scale_code: str, treatment: str, sessions: int, rater: str = "", variant: str = ""
) -> Analysis:
    """The analysis described in the module docstring, for one scale, treatment and N."""
    scale = scales.scale_get(scale_code)
    rater = rater or scale.raters[0]
    chosen = scale.variant(variant)
    variant = chosen.code if chosen is not None else ""
    scores = list(
        Score.objects.filter(
            clinic_id=clinic_id, scale=scale.code, status=ScoreStatus.CURRENT, rater=rater, variant=variant
        )
        .only("id", "patient_id", "recorded_on", "value", "level", "variant", "scale")
        .order_by("patient_id", "recorded_on", "id")[:ROW_LIMIT]
    )
    patient_ids = sorted({s.patient_id for s in scores})
    visits: dict[int, list[Visit]] = {}
    for visit in (
        Visit.objects.filter(clinic_id=clinic_id, treatment=treatment, patient_id__in=patient_ids)
        .exclude(status=VisitStatus.CANCELLED)
        .only("id", "patient_id", "started_at")
        .order_by("patient_id", "started_at", "id")[:ROW_LIMIT]
    ):
        visits.setdefault(visit.patient_id, []).append(visit)
    by_patient: dict[int, list[Score]] = {}
    for score in scores:
        by_patient.setdefault(score.patient_id, []).append(score)

    found: list[tuple[int, Score, Score, list[Visit]]] = []
    for patient_id, rows in by_patient.items():
        days = [v.started_at.date() for v in visits.get(patient_id, [])]

        def before(on: dt.date, days: list[dt.date] = days) -> int:
            return sum(1 for day in days if day < on)

        baseline = next((s for s in rows if before(s.recorded_on) == 0), None)
        if baseline is None:
            continue
        follow = next(
            (s for s in rows if s.recorded_on > baseline.recorded_on and before(s.recorded_on) >= sessions), None
        )
        if follow is None:
            continue
        used = [v for v in visits[patient_id] if v.started_at.date() < follow.recorded_on][:sessions]
        found.append((patient_id, baseline, follow, used))

    protocols = _protocols(clinic_id=clinic_id, treatment=treatment, patient_ids=[f[0] for f in found])
    bands = _bands(clinic_id=clinic_id, visit_ids=[v.pk for f in found for v in f[3]])
    patients: list[PatientChange] = []
    for patient_id, baseline, follow, used in found:
        start, end = _position(scale, baseline), _position(scale, follow)
        if start is None or end is None:
            continue
        counts = [bands[v.pk] for v in used if v.pk in bands]
        mean_count = sum(counts, Decimal(0)) / len(counts) if counts else None
        patients.append(
            PatientChange(
                patient_id=patient_id,
                baseline=baseline,
                follow_up=follow,
                change=end - start,
                sessions=len(used),
                protocol=protocols.get(patient_id, "no plan"),
                band=everts_band(mean_count),
            )
        )
    threshold = min_n()
    groups: dict[tuple[str, str], Group] = {}
    for change in patients:
        groups.setdefault((change.protocol, change.band), Group(change.protocol, change.band)).changes.append(change)
    for group in groups.values():
        group.summary = mean_change([c.change for c in group.changes], min_n=threshold)
    return Analysis(
        scale=scale,
        treatment=treatment,
        sessions=sessions,
        rater=rater,
        variant=variant,
        overall=mean_change([c.change for c in patients], min_n=threshold),
        groups=sorted(groups.values(), key=lambda g: (g.protocol, g.band)),
        patients=patients,
        min_n=threshold,
    )


def _protocols(*, clinic_id: int, treatment: str, patient_ids: list[int]) -> dict[int, str]:
    """Each patient's latest plan of the treatment: "<treatment name> v<protocol version>"."""
    from prpclinic.treatments.models import TreatmentPlan

    labels: dict[int, str] = {}
    plans = (
        TreatmentPlan.objects.filter(clinic_id=clinic_id, kind=treatment, patient_id__in=patient_ids)
        .select_related("protocol", "treatment")
        .order_by("patient_id", "-created_at")[:ROW_LIMIT]
    )
    for plan in plans:
        labels.setdefault(plan.patient_id, f"{plan.treatment.name} protocol v{plan.protocol.version}")
    return labels


def _bands(*, clinic_id: int, visit_ids: list[int]) -> dict[int, Decimal]:
    """Per visit, the mean platelet count (10³/µL) of the PRP products applied in it (where counted)."""
    from prpclinic.prp.models import Product, ProductStatus

    counts: dict[int, list[Decimal]] = {}
    rows = (
        Product.objects.filter(
            clinic_id=clinic_id,
            draw__visit_id__in=visit_ids,
            status=ProductStatus.APPLIED,
            platelets_k_per_ul__isnull=False,
        )
        .values_list("draw__visit_id", "platelets_k_per_ul")
        .order_by("id")[:ROW_LIMIT]
    )
    for visit_id, count in rows:
        counts.setdefault(visit_id, []).append(count)
    return {visit_id: sum(values, Decimal(0)) / len(values) for visit_id, values in counts.items()}
