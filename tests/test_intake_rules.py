"""The contraindication rules as data, and their pure evaluation (no database)."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

from prpclinic.intake import rules
from tests.factories_intake import eligible_answers

TODAY = dt.date(2026, 3, 10)


def _evaluate(treatment: str, overrides: dict | None = None, **answers: object) -> rules.Evaluation:
    return rules.evaluate(eligible_answers(treatment) | answers, rules.rules_for(treatment), TODAY, overrides=overrides)


def _fired(evaluation: rules.Evaluation) -> list[str]:
    return [f.rule_id for f in evaluation.fired]


def test_harmless_answers_are_eligible_for_every_treatment() -> None:
    for treatment in sorted(rules.ALL_TREATMENTS):
        evaluation = _evaluate(treatment)
        assert (evaluation.result, evaluation.fired) == ("eligible", [])


def test_an_absolute_contraindication_makes_the_patient_not_eligible() -> None:
    evaluation = _evaluate("prp_scalp", septicemia=True)
    assert evaluation.result == "not_eligible"
    assert _fired(evaluation) == ["prp.septicemia"]


def test_refusing_the_risk_is_an_absolute_contraindication_to_prp() -> None:
    evaluation = _evaluate("microneedling_prp", accepts_risk=False)
    assert (evaluation.result, _fired(evaluation)) == ("not_eligible", ["prp.unwilling_risk"])


def test_a_relative_contraindication_needs_a_physicians_review() -> None:
    evaluation = _evaluate("prp_scalp", anticoagulants=True)
    assert evaluation.result == "needs_review"
    assert _fired(evaluation) == ["prp.anticoagulants"]
    assert "COX inhibitors" in evaluation.fired[0].source


def test_micro_needling_rules_apply_to_micro_needling_only() -> None:
    assert _evaluate("microneedling_prp", pregnancy=True).result == "needs_review"
    assert "pregnancy" not in {q.key for q in rules.questions_for("prp_scalp")}
    assert "pregnancy" not in {q.key for q in rules.questions_for("mesotherapy")}


def test_mesotherapy_asks_only_what_the_reference_supports() -> None:
    assert [q.key for q in rules.questions_for("mesotherapy")] == ["local_infection"]
    assert _evaluate("mesotherapy", local_infection=True).result == "not_eligible"


def test_a_lab_rule_fires_only_when_a_value_exists() -> None:
    assert _evaluate("prp_scalp", platelets=None).result == "eligible"
    low = _evaluate("prp_scalp", platelets={"value": "95", "date": "2026-03-01"})
    assert (low.result, _fired(low)) == ("needs_review", ["prp.platelets_low"])
    assert low.fired[0].detail == "95 ×10³/µL (below 100), taken 2026-03-01."
    assert _evaluate("prp_scalp", platelets={"value": "100", "date": "2026-03-01"}).result == "eligible"
    assert _fired(_evaluate("prp_scalp", hemoglobin={"value": "9.8", "date": "2026-03-01"})) == ["prp.hemoglobin_low"]


def test_a_drug_taken_inside_its_window_fires_and_outside_does_not() -> None:
    yesterday, three_days_ago = TODAY - dt.timedelta(days=1), TODAY - dt.timedelta(days=3)
    assert _fired(_evaluate("prp_scalp", nsaid_last=yesterday)) == ["prp.nsaid_48h"]
    assert _evaluate("prp_scalp", nsaid_last=three_days_ago).result == "eligible"
    assert _fired(_evaluate("prp_scalp", systemic_steroid_last=TODAY - dt.timedelta(days=14))) == [
        "prp.systemic_steroid_2w"
    ]
    assert _evaluate("prp_scalp", systemic_steroid_last=TODAY - dt.timedelta(days=15)).result == "eligible"
    assert _fired(_evaluate("prp_scalp", steroid_injection_last="2026-02-20")) == ["prp.steroid_injection_1m"]


def test_isotretinoin_asks_for_review_within_its_configurable_window() -> None:
    recent = TODAY - dt.timedelta(days=100)
    evaluation = _evaluate("microneedling_prp", isotretinoin_last=recent)
    assert (evaluation.result, _fired(evaluation)) == ("needs_review", ["mn.isotretinoin"])
    assert "Spring 2017" in evaluation.fired[0].source
    shorter = _evaluate("microneedling_prp", overrides={"mn.isotretinoin": 90}, isotretinoin_last=recent)
    assert shorter.result == "eligible"
    assert shorter.parameters_used["mn.isotretinoin"] == "90"


def test_a_window_the_reference_leaves_to_the_clinic_fires_on_any_date_until_set() -> None:
    long_ago = TODAY - dt.timedelta(days=400)
    evaluation = _evaluate("microneedling_prp", peel_filler_toxin_last=long_ago)
    assert _fired(evaluation) == ["mn.peel_filler_toxin"]
    assert evaluation.parameters_used["mn.peel_filler_toxin"] is None
    set_window = _evaluate("microneedling_prp", overrides={"mn.peel_filler_toxin": 14}, peel_filler_toxin_last=long_ago)
    assert set_window.result == "eligible"


def test_a_clinic_may_override_a_lab_threshold_and_the_value_used_is_reported() -> None:
    evaluation = _evaluate("prp_scalp", overrides={"prp.platelets_low": "150"}, platelets={"value": "120", "date": ""})
    assert _fired(evaluation) == ["prp.platelets_low"]
    assert evaluation.parameters_used["prp.platelets_low"] == "150"


def test_an_unanswered_question_never_clears_the_patient() -> None:
    answers = eligible_answers("prp_scalp")
    del answers["septicemia"]
    evaluation = rules.evaluate(answers, rules.rules_for("prp_scalp"), TODAY)
    assert evaluation.result == "needs_review"
    assert evaluation.fired[0].detail == "Not answered."


def test_every_rule_names_its_source_and_tag_and_every_question_exists() -> None:
    for rule in rules.RULES:
        assert rule.source.startswith("PRP_REFERENCE §4"), rule.id
        assert rule.tag in ("V", "S", "U")
        assert rule.question in rules.QUESTIONS_BY_KEY
        assert rule.treatments <= rules.ALL_TREATMENTS
        if rule.kind in ("lab", "drug_timing"):
            assert rule.configurable, f"{rule.id}: a [S]/[U] number must be configurable"
    assert rules.RULES_BY_ID["prp.platelets_low"].parameter == Decimal(100)  # 10^5/µL in 10^3/µL
    assert rules.RULES_BY_ID["prp.hemoglobin_low"].parameter == Decimal(10)


def test_the_evaluation_reports_every_rule_version_used() -> None:
    evaluation = _evaluate("prp_scalp")
    assert evaluation.rule_versions == {rule.id: rule.version for rule in rules.rules_for("prp_scalp")}


def test_the_rules_module_imports_no_django() -> None:
    tree = ast.parse(Path(rules.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(name.startswith(("django", "prpclinic")) for name in imported)
