"""Contraindication rules for screening, as data with their sources, and their evaluation.

Pure Python (no Django import): the rule set is versioned data, and ``evaluate`` is a pure
function of the answers, the rules, the day and the clinic's overrides. Every clinical fact
comes from ``PRP_REFERENCE.md`` §4 with its tag: [V] verified, [S] secondary source, [U]
unverified. No rule here is stronger than its source: the micro-needling list (clinic pages,
[S]) does not say which items are absolute, so they all ask for a physician's review; the PRP
list names its absolute and relative items. Every number (lab threshold, drug window) is [S] or
a convention, so the clinic may override it; the value used is stored with each screening.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

# The treatment kinds (the values of visits.models.TreatmentKind, repeated to stay Django-free).
MICRONEEDLING_PRP = "microneedling_prp"
PRP_SCALP = "prp_scalp"
MESOTHERAPY = "mesotherapy"
PRP_TREATMENTS = frozenset({MICRONEEDLING_PRP, PRP_SCALP})
ALL_TREATMENTS = frozenset({MICRONEEDLING_PRP, PRP_SCALP, MESOTHERAPY})

# Bumped whenever a rule is added, removed or changed (each changed rule also bumps its own version).
RULESET_VERSION = "2025-1"

RuleKind = Literal["absolute", "relative", "lab", "drug_timing"]
AnswerKind = Literal["yes_no", "date", "lab"]
Result = Literal["eligible", "needs_review", "not_eligible"]

ELIGIBLE: Result = "eligible"
NEEDS_REVIEW: Result = "needs_review"
NOT_ELIGIBLE: Result = "not_eligible"


@dataclass(frozen=True)
class Question:
    """One question of the questionnaire; ``key`` is where its answer is stored."""

    key: str
    group: str
    text: str
    kind: AnswerKind
    unit: str = ""
    help: str = ""


@dataclass(frozen=True)
class Rule:
    """One contraindication.

    ``kind``: absolute (fires -> not eligible), relative (fires -> a physician reviews), lab
    (value below ``parameter`` -> review; only when a value was given), drug_timing (last dose
    within ``parameter`` days -> review; None = no default window: the clinic sets one, and
    until then any date given fires). ``fires_on`` is the yes/no answer that fires the rule.
    """

    id: str
    version: int
    treatments: frozenset[str]
    kind: RuleKind
    question: str
    message: str
    source: str
    tag: Literal["V", "S", "U"]
    parameter: Decimal | int | None = None
    parameter_unit: str = ""
    fires_on: bool = True
    configurable: bool = field(default=False)


@dataclass(frozen=True)
class Fired:
    rule_id: str
    version: int
    kind: RuleKind
    message: str
    source: str
    tag: str
    detail: str
    parameter: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "version": self.version,
            "kind": self.kind,
            "message": self.message,
            "source": self.source,
            "tag": self.tag,
            "detail": self.detail,
            "parameter": self.parameter,
        }


@dataclass(frozen=True)
class Evaluation:
    result: Result
    fired: list[Fired]
    rule_versions: dict[str, int]
    parameters_used: dict[str, str | None]


# --- Sources (PRP_REFERENCE.md §4) -------------------------------------------------------
SRC_PRP = (
    "PRP_REFERENCE §4, PRP contraindications (commonly traced to the ICMS 2011 guidelines [U]; "
    "Medscape, Le QD 2018, a device vendor page)"
)
SRC_PRP_ANTIPLATELET = (
    "PRP_REFERENCE §4, antiplatelet drugs: one device IFU states PRP can be prepared from patients on "
    "anticoagulants or antiplatelets, but growth-factor release may be delayed with COX inhibitors"
)
SRC_MN = "PRP_REFERENCE §4, micro-needling contraindications (clinic pages; low authority)"
SRC_ISOTRETINOIN = (
    "PRP_REFERENCE §4, isotretinoin: the traditional 6–12-month delay rests on three 1980s case series; "
    "Spring 2017 (JAMA Dermatol 153:802) found insufficient evidence to delay manual dermabrasion, "
    "superficial peels, surgery, laser hair removal, or fractional lasers; micro-needling is not named"
)
SRC_MESO_INFECTION = (
    "PRP_REFERENCE §4 lists local infection at the site as an absolute contraindication to PRP injection; "
    "applied to mesotherapy injections. The reference gives no mesotherapy contraindication list"
)

# --- Questions, in the order the form shows them ------------------------------------------
G_HEALTH = "Health"
G_SKIN = "The area to be treated"
G_MEDICINES = "Medicines and recent procedures (date of the last dose; leave empty if none)"
G_LABS = "Latest laboratory values (optional)"

QUESTIONS: tuple[Question, ...] = (
    Question("local_infection", G_SKIN, "Is there an infection on or near the area to be treated?", "yes_no"),
    Question(
        "active_infection",
        G_HEALTH,
        "Do you have an active bacterial, viral (including herpes / cold sores) or fungal infection?",
        "yes_no",
    ),
    Question("active_acne", G_SKIN, "Do you have active acne in the area?", "yes_no"),
    Question("skin_disease", G_SKIN, "Do you have eczema, psoriasis or rosacea in the area?", "yes_no"),
    Question("keloid", G_SKIN, "Do you tend to form keloid or raised (hypertrophic) scars?", "yes_no"),
    Question("keratoses_moles", G_SKIN, "Any actinic keratoses (sun spots) or raised moles in the area?", "yes_no"),
    Question("platelet_dysfunction", G_HEALTH, "Have you been told you have a platelet function disorder?", "yes_no"),
    Question(
        "critical_thrombocytopenia", G_HEALTH, "Have you been told your platelet count is critically low?", "yes_no"
    ),
    Question("bleeding_disorder", G_HEALTH, "Do you have a bleeding disorder?", "yes_no"),
    Question(
        "anticoagulants",
        G_HEALTH,
        "Do you take blood thinners (anticoagulants) or antiplatelet drugs, e.g. warfarin, apixaban, clopidogrel?",
        "yes_no",
    ),
    Question(
        "hemodynamic_instability",
        G_HEALTH,
        "Is your blood pressure or circulation unstable at present (e.g. recent collapse)?",
        "yes_no",
    ),
    Question("septicemia", G_HEALTH, "Do you have a blood infection (sepsis) at present?", "yes_no"),
    Question("recent_fever", G_HEALTH, "Have you had a fever or been ill recently?", "yes_no"),
    Question(
        "cancer",
        G_HEALTH,
        "Do you have or have you had cancer (especially of the blood or bone), or chemotherapy or radiotherapy?",
        "yes_no",
    ),
    Question("uncontrolled_diabetes", G_HEALTH, "Do you have diabetes that is not well controlled?", "yes_no"),
    Question("pregnancy", G_HEALTH, "Are you pregnant or breastfeeding?", "yes_no"),
    Question("allergy_steel_anaesthetic", G_HEALTH, "Are you allergic to steel or to local anaesthetics?", "yes_no"),
    Question("tobacco", G_HEALTH, "Do you smoke or use tobacco?", "yes_no"),
    Question("accepts_risk", G_HEALTH, "Do you accept the risks of the treatment as explained to you?", "yes_no"),
    Question(
        "nsaid_last", G_MEDICINES, "Anti-inflammatory painkillers (NSAIDs: ibuprofen, diclofenac, aspirin…)", "date"
    ),
    Question("steroid_injection_last", G_MEDICINES, "Cortisone (corticosteroid) injection into the area", "date"),
    Question("systemic_steroid_last", G_MEDICINES, "Cortisone tablets or other systemic corticosteroids", "date"),
    Question("isotretinoin_last", G_MEDICINES, "Isotretinoin (e.g. Roaccutane) for acne", "date"),
    Question("peel_filler_toxin_last", G_MEDICINES, "Chemical peel, filler or botulinum toxin in the area", "date"),
    Question("platelets", G_LABS, "Platelet count", "lab", unit="×10³/µL", help="With the date the blood was taken."),
    Question("hemoglobin", G_LABS, "Haemoglobin", "lab", unit="g/dL", help="With the date the blood was taken."),
)
QUESTIONS_BY_KEY = {q.key: q for q in QUESTIONS}


def _r(
    rule_id: str,
    treatments: frozenset[str],
    kind: RuleKind,
    question: str,
    message: str,
    source: str,
    tag: Literal["V", "S", "U"] = "S",
    **extra: Any,
) -> Rule:
    return Rule(
        id=rule_id,
        version=1,
        treatments=treatments,
        kind=kind,
        question=question,
        message=message,
        source=source,
        tag=tag,
        **extra,
    )


P, MN = PRP_TREATMENTS, frozenset({MICRONEEDLING_PRP})

RULES: tuple[Rule, ...] = (
    # PRP, absolute (§4 [S]): both PRP treatments.
    _r("prp.platelet_dysfunction", P, "absolute", "platelet_dysfunction", "Platelet dysfunction syndrome", SRC_PRP),
    _r(
        "prp.critical_thrombocytopenia",
        P,
        "absolute",
        "critical_thrombocytopenia",
        "Critical thrombocytopenia",
        SRC_PRP,
    ),
    _r(
        "prp.hemodynamic_instability",
        P,
        "absolute",
        "hemodynamic_instability",
        "Hemodynamic instability",
        SRC_PRP,
    ),
    _r("prp.septicemia", P, "absolute", "septicemia", "Septicemia", SRC_PRP),
    _r("prp.local_infection", P, "absolute", "local_infection", "Local infection at the site", SRC_PRP),
    _r(
        "prp.unwilling_risk",
        P,
        "absolute",
        "accepts_risk",
        "Patient unwilling to accept the risk",
        SRC_PRP,
        fires_on=False,
    ),
    # PRP, relative (§4 [S]).
    _r("prp.tobacco", P, "relative", "tobacco", "Tobacco use", SRC_PRP),
    _r("prp.recent_fever", P, "relative", "recent_fever", "Recent fever or illness", SRC_PRP),
    _r("prp.cancer", P, "relative", "cancer", "Cancer, especially hematopoietic or bone", SRC_PRP),
    _r(
        "prp.anticoagulants",
        P,
        "relative",
        "anticoagulants",
        "Anticoagulant or antiplatelet drugs (growth-factor release may be delayed with COX inhibitors)",
        SRC_PRP_ANTIPLATELET,
    ),
    _r(
        "prp.platelets_low",
        P,
        "lab",
        "platelets",
        "Platelets below 10⁵/µL",
        SRC_PRP,
        parameter=Decimal(100),
        parameter_unit="×10³/µL",
        configurable=True,
    ),
    _r(
        "prp.hemoglobin_low",
        P,
        "lab",
        "hemoglobin",
        "Hemoglobin below 10 g/dL",
        SRC_PRP,
        parameter=Decimal(10),
        parameter_unit="g/dL",
        configurable=True,
    ),
    # "Within 48 h" asked as a date: 2 days, counted so that any dose that day could lie inside.
    _r(
        "prp.nsaid_48h",
        P,
        "drug_timing",
        "nsaid_last",
        "NSAIDs within 48 h",
        SRC_PRP,
        parameter=2,
        parameter_unit="days",
        configurable=True,
    ),
    _r(
        "prp.steroid_injection_1m",
        P,
        "drug_timing",
        "steroid_injection_last",
        "Corticosteroid injection at the site within 1 month",
        SRC_PRP,
        parameter=30,
        parameter_unit="days",
        configurable=True,
    ),
    _r(
        "prp.systemic_steroid_2w",
        P,
        "drug_timing",
        "systemic_steroid_last",
        "Systemic corticosteroids within 2 weeks",
        SRC_PRP,
        parameter=14,
        parameter_unit="days",
        configurable=True,
    ),
    # Micro-needling (§4 [S], clinic pages): the source does not grade them, so a physician reviews each.
    _r(
        "mn.active_infection", MN, "relative", "active_infection", "Active bacterial, viral or fungal infection", SRC_MN
    ),
    _r("mn.active_acne", MN, "relative", "active_acne", "Active acne", SRC_MN),
    _r("mn.skin_disease", MN, "relative", "skin_disease", "Eczema, psoriasis or rosacea in the area", SRC_MN),
    _r("mn.keloid", MN, "relative", "keloid", "Keloid or hypertrophic tendency", SRC_MN),
    _r("mn.bleeding_disorder", MN, "relative", "bleeding_disorder", "Bleeding disorder", SRC_MN),
    _r("mn.anticoagulants", MN, "relative", "anticoagulants", "Anticoagulants", SRC_MN),
    _r("mn.uncontrolled_diabetes", MN, "relative", "uncontrolled_diabetes", "Uncontrolled diabetes", SRC_MN),
    _r("mn.malignancy", MN, "relative", "cancer", "Malignancy, chemotherapy or radiotherapy", SRC_MN),
    _r("mn.keratoses_moles", MN, "relative", "keratoses_moles", "Actinic keratoses or raised moles", SRC_MN),
    _r("mn.pregnancy", MN, "relative", "pregnancy", "Pregnancy or breastfeeding", SRC_MN),
    _r("mn.allergy", MN, "relative", "allergy_steel_anaesthetic", "Allergy to steel or anesthetic", SRC_MN),
    # The source says "clinic-specific windows": no default; the clinic sets one.
    _r(
        "mn.peel_filler_toxin",
        MN,
        "drug_timing",
        "peel_filler_toxin_last",
        "Recent peel, filler or neurotoxin",
        SRC_MN,
        parameter=None,
        parameter_unit="days",
        configurable=True,
    ),
    # Weak evidence for any delay (Spring 2017 [V]); 180 days is the low end of the traditional
    # 6-12 months, kept only as a default that asks for review, never as a refusal.
    _r(
        "mn.isotretinoin",
        MN,
        "drug_timing",
        "isotretinoin_last",
        "Isotretinoin in the past months (traditional delay; weak evidence, micro-needling not named)",
        SRC_ISOTRETINOIN,
        tag="V",
        parameter=180,
        parameter_unit="days",
        configurable=True,
    ),
    # Mesotherapy: the reference has no list; only the site infection of the injection list.
    _r(
        "meso.local_infection",
        frozenset({MESOTHERAPY}),
        "absolute",
        "local_infection",
        "Local infection at the injection site",
        SRC_MESO_INFECTION,
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


def rules_for(treatment: str, rules: Sequence[Rule] = RULES) -> list[Rule]:
    return [rule for rule in rules if treatment in rule.treatments]


def questions_for(treatment: str, rules: Sequence[Rule] = RULES) -> list[Question]:
    """The questions the rules of ``treatment`` ask, in the questionnaire's order."""
    keys = {rule.question for rule in rules_for(treatment, rules)}
    return [q for q in QUESTIONS if q.key in keys]


def parameter_of(rule: Rule, overrides: Mapping[str, Any]) -> Decimal | int | None:
    """The rule's number: the clinic's override when it set one, else the default."""
    if rule.configurable and overrides.get(rule.id) not in (None, ""):
        value = overrides[rule.id]
        return int(value) if rule.kind == "drug_timing" else Decimal(str(value))
    return rule.parameter


def _as_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _as_number(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _check(rule: Rule, answers: Mapping[str, Any], today: dt.date, parameter: Any) -> str | None:
    """Why ``rule`` fires on these answers, or None when it does not."""
    answer = answers.get(rule.question)
    if rule.kind in ("absolute", "relative"):
        if answer is None:
            # An unanswered question cannot clear the patient: a physician looks at it.
            return "Not answered."
        return ("Answered yes." if rule.fires_on else "Answered no.") if bool(answer) == rule.fires_on else None
    if rule.kind == "lab":
        value = _as_number(answer.get("value") if isinstance(answer, Mapping) else answer)
        if value is None or parameter is None or value >= Decimal(str(parameter)):
            return None
        taken = answer.get("date") if isinstance(answer, Mapping) else None
        return f"{value} {rule.parameter_unit} (below {parameter})" + (f", taken {taken}" if taken else "") + "."
    last = _as_date(answer)
    if last is None:
        return None
    days = (today - last).days
    if parameter is None:
        return f"Last on {last.isoformat()}; the clinic has set no window for this, so a physician reviews it."
    # Inclusive: a date exactly ``parameter`` days ago may still be inside the window by the hour.
    if days <= int(parameter):
        return f"Last on {last.isoformat()} ({days} days ago; window {parameter} days)."
    return None


def evaluate(
    answers: Mapping[str, Any],
    rules: Sequence[Rule],
    now: dt.date | dt.datetime,
    overrides: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Which of ``rules`` fire on ``answers`` on day ``now``, and the resulting eligibility.

    Answers: yes/no questions as bool, drug timing as a date (or ISO text; None = none taken),
    labs as ``{"value": number, "date": ISO}`` or None. Any absolute rule firing -> not
    eligible; else any other rule firing -> needs a physician's review; else eligible.
    """
    today = now.date() if isinstance(now, dt.datetime) else now
    overrides = overrides or {}
    fired: list[Fired] = []
    used: dict[str, str | None] = {}
    for rule in rules:
        parameter = parameter_of(rule, overrides)
        if rule.parameter_unit:
            used[rule.id] = None if parameter is None else str(parameter)
        detail = _check(rule, answers, today, parameter)
        if detail is not None:
            fired.append(
                Fired(
                    rule_id=rule.id,
                    version=rule.version,
                    kind=rule.kind,
                    message=rule.message,
                    source=rule.source,
                    tag=rule.tag,
                    detail=detail,
                    parameter=None if parameter is None else str(parameter),
                )
            )
    if any(f.kind == "absolute" and f.detail != "Not answered." for f in fired):
        result: Result = NOT_ELIGIBLE
    elif fired:
        result = NEEDS_REVIEW
    else:
        result = ELIGIBLE
    return Evaluation(
        result=result,
        fired=fired,
        rule_versions={rule.id: rule.version for rule in rules},
        parameters_used=used,
    )
