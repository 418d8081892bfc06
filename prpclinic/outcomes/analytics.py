"""The clinic's outcome analytics: change from baseline after N sessions, per treatment and protocol,
split by the PRP's dose band, classification and concentration band from the chain of custody.

Definitions (also in docs/outcomes.md):
- A *session* is a visit of the chosen treatment (not cancelled). A score's sessions-before is the
  number of such visits the patient started on an earlier day than the score's date (a score taken
  on a session's day, before the treatment, belongs before that session).
- *Baseline* is the patient's last current score on the scale with no session before it (the usual
  "last value before the first treatment").
- *After N sessions* is the patient's first score with exactly N sessions before it: taken after
  the N-th session and before the next one. A patient scored only later (after N + 1) is counted
  under N + 1, never under N.
- The change is follow-up minus baseline: in the scale's unit for numeric scales, in steps of the
  scale for ordinal ones (for example Ludwig II -> I is -1).
- Scales rated after treatment only (``Scale.rated_after``: GAIS, which rates the change itself,
  and patient satisfaction) have no baseline: the rating after N sessions is reported, as numbered
  by its scale (GAIS standard 1-5 or reversed 0-4, kept apart by variant; satisfaction 1-5).
- *Protocol*: the protocol version the N sessions were done under (``Visit.protocol``); "mixed"
  when they differ; for visits without one, the protocol of the patient's latest plan.
- The PRP of the N sessions, from the chain of custody (``prp.Application`` of each visit, with its
  product and blood draw), splits the patients three ways:
  * **dose band**: dose N = C_PRP x V (PRP_REFERENCE.md §2), with V the volume applied, summed per
    session and averaged over the sessions where it is known. Bands by cut-offs in 10^9 platelets;
    the default cut-offs are DEPA's (Magalon 2016) 1, 3 and 5, tagged [U] in the reference: a
    configurable default (the analytics form and ``OUTCOMES_DOSE_CUTOFFS``), never a rule.
  * **classification**: the PAW platelet category P1-P4 (DeLong 2012, PRP_REFERENCE.md §3 [V]) of
    each product, computed by ``prp.measures.paw`` from the product's and the whole blood's
    counts; "mixed" when the sessions' products differ.
  * **concentration band**: the mean platelet count of the products (Everts 2020, IJMS 21:7794,
    Table 3 [V]).
  "not measured" where the counts were not recorded; "no PRP applied" where no PRP was applied.
Reads run in a fixed number of queries (scores, visits, protocols, plans, applications), each bounded.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import QuerySet

from prpclinic.outcomes import scales
from prpclinic.outcomes.models import Score, ScoreStatus
from prpclinic.outcomes.stats import Summary, mean_change
from prpclinic.prp import measures
from prpclinic.visits.models import TreatmentKind, Visit, VisitStatus

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

# DEPA dose cut-offs (Magalon 2016, BMJ Open SEM 2:e000060): A >5, B 3-5, C 1-3, D <1 (10^9 platelets).
# PRP_REFERENCE.md §3 tags them [U]: a default the clinic may replace, never a clinical rule.
DEPA_DOSE_CUTOFFS: tuple[Decimal, ...] = (Decimal(1), Decimal(3), Decimal(5))
DEPA_DOSE_LETTERS = ("D", "C", "B", "A")
DOSE_SOURCE = "DEPA, Magalon 2016, BMJ Open SEM 2:e000060 [U] (default cut-offs)"
CUSTOM_DOSE_SOURCE = "the clinic's own cut-offs"
PAW_SOURCE = "PAW platelet category, DeLong 2012, Arthroscopy 28:998 [V]"
MAX_CUTOFFS = 6

NOT_MEASURED = "not measured"
NO_PRP = "no PRP applied"
MIXED = "mixed"
NO_PROTOCOL = "no protocol recorded"
ALL_PROTOCOLS = "all protocols"

# Treatments without a blood draw (PRP_REFERENCE.md §7: mesotherapy's dose is a drug amount).
WITHOUT_PRP = frozenset({TreatmentKind.MESOTHERAPY.value})


def everts_band(platelets_k_per_ul: Decimal | None) -> str:
    if platelets_k_per_ul is None:
        return NOT_MEASURED
    for upper, label in EVERTS_BANDS:
        if platelets_k_per_ul <= upper:
            return label
    return EVERTS_TOP


def default_dose_cutoffs() -> tuple[Decimal, ...]:
    configured = getattr(settings, "OUTCOMES_DOSE_CUTOFFS", None)
    if configured:
        return parse_cutoffs(",".join(str(c) for c in configured))
    return DEPA_DOSE_CUTOFFS


def parse_cutoffs(text: str) -> tuple[Decimal, ...]:
    """Cut-offs in 10^9 platelets, e.g. "1, 3, 5": positive, rising, at most six. ValueError otherwise."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise ValueError("Enter at least one cut-off, e.g. 1, 3, 5.")
    if len(parts) > MAX_CUTOFFS:
        raise ValueError(f"At most {MAX_CUTOFFS} cut-offs.")
    try:
        values = tuple(Decimal(p) for p in parts)
    except InvalidOperation:
        raise ValueError("Enter numbers separated by commas, e.g. 1, 3, 5.") from None
    if any(not v.is_finite() or v <= 0 for v in values):
        raise ValueError("Cut-offs are numbers of platelets (×10⁹) above 0.")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("Enter the cut-offs from the smallest to the largest, each once.")
    return values


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def dose_band_labels(cutoffs: Sequence[Decimal]) -> list[str]:
    """One label per band, lowest first. A dose exactly on a cut-off belongs to the lower band."""
    depa = tuple(cutoffs) == DEPA_DOSE_CUTOFFS
    labels = []
    for i in range(len(cutoffs) + 1):
        if i == 0:
            text = f"≤{_num(cutoffs[0])}"
        elif i == len(cutoffs):
            text = f">{_num(cutoffs[-1])}"
        else:
            text = f">{_num(cutoffs[i - 1])}–{_num(cutoffs[i])}"
        text += " ×10⁹"
        labels.append(f"{DEPA_DOSE_LETTERS[i]} ({text})" if depa else text)
    return labels


def dose_band(dose_billion: Decimal | None, cutoffs: Sequence[Decimal]) -> str:
    if dose_billion is None:
        return NOT_MEASURED
    labels = dose_band_labels(cutoffs)
    for i, cut in enumerate(cutoffs):
        if dose_billion <= cut:
            return labels[i]
    return labels[-1]


def min_n() -> int:
    return int(getattr(settings, "OUTCOMES_ANALYTICS_MIN_N", MIN_N))


@dataclass
class PatientChange:
    patient_id: int
    baseline: Score | None  # None for a scale rated after treatment only
    follow_up: Score
    change: float  # the change from baseline, or the rating itself (``rated_after``)
    sessions: int
    protocol: str
    band: str  # concentration band (Everts)
    dose: str = NOT_MEASURED  # dose band
    paw: str = NOT_MEASURED  # PAW platelet category
    dose_billion: float | None = None  # mean dose per session, 10^9 platelets


@dataclass
class Group:
    label: str
    changes: list[PatientChange] = field(default_factory=list)
    summary: Summary | None = None


@dataclass
class Split:
    """One way of splitting the patients (dose band, classification, concentration band)."""

    code: str
    title: str
    source: str
    groups: list[Group]


@dataclass
class Section:
    """All patients of one protocol (or of every protocol): the total and each split."""

    protocol: str
    overall: Summary
    splits: list[Split]


@dataclass
class Analysis:
    scale: scales.Scale
    treatment: str
    sessions: int
    rater: str
    variant: str
    overall: Summary
    sections: list[Section]
    patients: list[PatientChange]
    min_n: int
    dose_cutoffs: tuple[Decimal, ...]
    dose_source: str
    truncated: bool = False
    band_source: str = BAND_SOURCE
    paw_source: str = PAW_SOURCE

    @property
    def quantity(self) -> str:
        """What the numbers are: a change from baseline, or (GAIS, satisfaction) the rating itself."""
        return "rating" if self.scale.rated_after else "change from baseline"

    @property
    def dose_cutoffs_text(self) -> str:
        return ", ".join(_num(c) for c in self.dose_cutoffs)

    @property
    def has_prp(self) -> bool:
        return self.treatment not in WITHOUT_PRP


def _position(scale: scales.Scale, score: Score) -> float | None:
    if scale.rated_after:
        # The rating as numbered by its scale (GAIS 1-5 or 0-4, satisfaction 1-5).
        try:
            return float(score.level)
        except ValueError:
            return None
    if scale.kind == scales.ORDINAL:
        position = scale.position(score.level, score.variant)
        return float(position) if position is not None else None
    return float(score.value) if score.value is not None else None


@dataclass(frozen=True)
class _Applied:
    """One PRP application of a visit, with what the chain of custody measured."""

    visit_id: int
    dose_billion: Decimal | None
    platelets: Decimal | None
    paw_p: str | None


def change_from_baseline(
    *,
    clinic_id: int,
    scale_code: str,
    treatment: str,
    sessions: int,
    rater: str = "",
    variant: str = "",
    dose_cutoffs: Sequence[Decimal] | None = None,
) -> Analysis:
    """The analysis described in the module docstring, for one scale, treatment and N."""
    scale = scales.scale_get(scale_code)
    rater = rater or scale.raters[0]
    chosen = scale.variant(variant)
    variant = chosen.code if chosen is not None else ""
    cutoffs = tuple(dose_cutoffs) if dose_cutoffs else default_dose_cutoffs()
    score_rows: QuerySet[Score] = Score.objects.filter(
        clinic_id=clinic_id, scale=scale.code, status=ScoreStatus.CURRENT, rater=rater, variant=variant
    )
    scores = list(
        score_rows.only("id", "patient_id", "recorded_on", "value", "level", "variant", "scale").order_by(
            "patient_id", "recorded_on", "id"
        )[: ROW_LIMIT + 1]
    )
    truncated = len(scores) > ROW_LIMIT
    if truncated:
        # The last patient may be cut part-way: leave them out rather than count half a series.
        last = scores[ROW_LIMIT].patient_id
        scores = [s for s in scores[:ROW_LIMIT] if s.patient_id != last]
    # The scored patients as a subquery, not a list of ids: no limit on query parameters.
    scored = score_rows.values("patient_id")
    visits: dict[int, list[Visit]] = {}
    for visit in (
        Visit.objects.filter(clinic_id=clinic_id, treatment=treatment, patient_id__in=scored)
        .exclude(status=VisitStatus.CANCELLED)
        .only("id", "patient_id", "started_at", "protocol_id")
        .order_by("patient_id", "started_at", "id")[:ROW_LIMIT]
    ):
        visits.setdefault(visit.patient_id, []).append(visit)
    by_patient: dict[int, list[Score]] = {}
    for score in scores:
        by_patient.setdefault(score.patient_id, []).append(score)

    found: list[tuple[int, Score | None, Score, list[Visit]]] = []
    for patient_id, rows in by_patient.items():
        days = [v.started_at.date() for v in visits.get(patient_id, [])]

        def before(on: dt.date, days: list[dt.date] = days) -> int:
            return sum(1 for day in days if day < on)

        follow = next((s for s in rows if before(s.recorded_on) == sessions), None)
        if follow is None:
            continue
        baseline = None
        if not scale.rated_after:
            pre = [s for s in rows if before(s.recorded_on) == 0]
            if not pre:
                continue
            baseline = pre[-1]
        used = visits[patient_id][:sessions]
        found.append((patient_id, baseline, follow, used))

    used_visits = [v for f in found for v in f[3]]
    protocols = _protocol_labels(clinic_id=clinic_id, protocol_ids={v.protocol_id for v in used_visits})
    plans = _plan_protocols(
        clinic_id=clinic_id,
        treatment=treatment,
        patient_ids=scored,
        needed=any(v.protocol_id is None for v in used_visits),
    )
    applied: dict[int, list[_Applied]] = {}
    if treatment not in WITHOUT_PRP and found:
        for row in _applications(clinic_id=clinic_id, treatment=treatment, patient_ids=scored):
            applied.setdefault(row.visit_id, []).append(row)

    patients: list[PatientChange] = []
    for patient_id, baseline, follow, used in found:
        end = _position(scale, follow)
        start = _position(scale, baseline) if baseline is not None else 0.0
        if start is None or end is None:
            continue
        labels = {protocols[v.protocol_id] if v.protocol_id else plans.get(patient_id, NO_PROTOCOL) for v in used}
        rows = [row for v in used for row in applied.get(v.pk, [])]
        counts = [r.platelets for r in rows if r.platelets is not None]
        mean_count = sum(counts, Decimal(0)) / len(counts) if counts else None
        doses = _session_doses(used, applied)
        mean_dose = sum(doses, Decimal(0)) / len(doses) if doses else None
        categories = {r.paw_p for r in rows if r.paw_p}
        patients.append(
            PatientChange(
                patient_id=patient_id,
                baseline=baseline,
                follow_up=follow,
                change=end - start,
                sessions=len(used),
                protocol=labels.pop() if len(labels) == 1 else f"{MIXED} ({', '.join(sorted(labels))})",
                band=NO_PRP if not rows else everts_band(mean_count),
                dose=NO_PRP if not rows else dose_band(mean_dose, cutoffs),
                paw=NO_PRP if not rows else _one_or_mixed(categories),
                dose_billion=float(mean_dose) if mean_dose is not None else None,
            )
        )
    threshold = min_n()
    protocols_seen = sorted({p.protocol for p in patients})
    # With one protocol (or none), "all protocols" would repeat it: one section, named by the protocol.
    sections = []
    if len(protocols_seen) != 1:
        sections.append(_section(ALL_PROTOCOLS, patients, threshold=threshold, treatment=treatment, cutoffs=cutoffs))
    for protocol in protocols_seen:
        members = [p for p in patients if p.protocol == protocol]
        sections.append(_section(protocol, members, threshold=threshold, treatment=treatment, cutoffs=cutoffs))
    return Analysis(
        scale=scale,
        treatment=treatment,
        sessions=sessions,
        rater=rater,
        variant=variant,
        overall=sections[0].overall,
        sections=sections,
        patients=patients,
        min_n=threshold,
        dose_cutoffs=cutoffs,
        dose_source=DOSE_SOURCE if cutoffs == DEPA_DOSE_CUTOFFS else CUSTOM_DOSE_SOURCE,
        truncated=truncated,
    )


def _one_or_mixed(values: set[str]) -> str:
    if not values:
        return NOT_MEASURED
    if len(values) == 1:
        return next(iter(values))
    return f"{MIXED} ({', '.join(sorted(values))})"


def _session_doses(used: list[Visit], applied: dict[int, list[_Applied]]) -> list[Decimal]:
    """Per session with PRP, the platelets delivered (sum of its applications), where every one is known."""
    doses = []
    for visit in used:
        rows = applied.get(visit.pk, [])
        if rows and all(r.dose_billion is not None for r in rows):
            doses.append(sum((r.dose_billion for r in rows if r.dose_billion is not None), Decimal(0)))
    return doses


def _groups(changes: Iterable[PatientChange], key: str, order: list[str], threshold: int) -> list[Group]:
    groups: dict[str, Group] = {}
    for change in changes:
        label = getattr(change, key)
        groups.setdefault(label, Group(label)).changes.append(change)
    for group in groups.values():
        group.summary = mean_change([c.change for c in group.changes], min_n=threshold)

    def rank(group: Group) -> tuple[int, str]:
        return (order.index(group.label), "") if group.label in order else (len(order), group.label)

    return sorted(groups.values(), key=rank)


def _section(
    protocol: str, changes: list[PatientChange], *, threshold: int, treatment: str, cutoffs: Sequence[Decimal]
) -> Section:
    overall = mean_change([c.change for c in changes], min_n=threshold)
    splits: list[Split] = []
    if treatment not in WITHOUT_PRP:
        dose_order = dose_band_labels(cutoffs)
        splits = [
            Split(
                "dose",
                "PRP dose band (platelets per session)",
                DOSE_SOURCE if tuple(cutoffs) == DEPA_DOSE_CUTOFFS else CUSTOM_DOSE_SOURCE,
                _groups(changes, "dose", dose_order, threshold),
            ),
            Split(
                "paw", "PRP classification (PAW platelets)", PAW_SOURCE, _groups(changes, "paw", PAW_ORDER, threshold)
            ),
            Split(
                "concentration",
                "PRP concentration band",
                BAND_SOURCE,
                _groups(changes, "band", [label for _, label in EVERTS_BANDS] + [EVERTS_TOP], threshold),
            ),
        ]
    return Section(protocol, overall, splits)


PAW_ORDER = ["P1", "P2", "P3", "P4"]


def _protocol_labels(*, clinic_id: int, protocol_ids: set[int | None]) -> dict[int, str]:
    from prpclinic.treatments.models import Protocol

    ids = sorted(i for i in protocol_ids if i is not None)
    if not ids:
        return {}
    return {
        p.pk: f"{p.treatment.name} protocol v{p.version}"
        for p in Protocol.objects.filter(clinic_id=clinic_id, pk__in=ids).select_related("treatment")[:ROW_LIMIT]
    }


def _plan_protocols(*, clinic_id: int, treatment: str, patient_ids: QuerySet, needed: bool) -> dict[int, str]:
    """For visits without a recorded protocol: each patient's latest plan of the treatment."""
    from prpclinic.treatments.models import TreatmentPlan

    if not needed:
        return {}
    labels: dict[int, str] = {}
    plans = (
        TreatmentPlan.objects.filter(clinic_id=clinic_id, kind=treatment, patient_id__in=patient_ids)
        .select_related("protocol", "treatment")
        .order_by("patient_id", "-created_at")[:ROW_LIMIT]
    )
    for plan in plans:
        labels.setdefault(plan.patient_id, f"{plan.treatment.name} protocol v{plan.protocol.version}")
    return labels


def _applications(*, clinic_id: int, treatment: str, patient_ids: QuerySet) -> list[_Applied]:
    """The PRP applied in the patients' visits of the treatment, with the product's and draw's counts."""
    from prpclinic.prp.models import Activation, Application

    rows = (
        Application.objects.filter(clinic_id=clinic_id, visit__treatment=treatment, patient_id__in=patient_ids)
        .exclude(visit__status=VisitStatus.CANCELLED)
        .values_list(
            "visit_id",
            "volume_applied_ml",
            "product__platelets_k_per_ul",
            "product__draw__platelets_k_per_ul",
            "product__activation",
        )
        .order_by("id")[:ROW_LIMIT]
    )
    found = []
    for visit_id, volume, c_prp, c_wb, activation in rows:
        code = measures.paw(c_wb=c_wb, c_prp=c_prp, activated=activation != Activation.NONE, wbc_wb=None, wbc_prp=None)
        found.append(
            _Applied(
                visit_id=visit_id,
                dose_billion=measures.dose_billion(c_prp=c_prp, v_prp=volume),
                platelets=c_prp,
                paw_p=code.split("-")[0] if code else None,
            )
        )
    return found
