"""The charting rules and the map geometry, tested directly (pure modules, no database)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from prpclinic.visits import bodymaps, rules
from prpclinic.visits.rules import DepthRange, Findings, check_depth

FOREHEAD = DepthRange(Decimal("0.25"), Decimal("0.75"))
MID_DERMIS = DepthRange(Decimal("1.5"), Decimal("2.0"))
depths = st.decimals(min_value=Decimal("-5"), max_value=Decimal("30"), places=2)


def test_the_rules_and_the_maps_import_no_django() -> None:
    for module in (rules, bodymaps):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
        }
        assert not {name for name in imported if name.startswith("django")}, module.__name__


def test_a_depth_inside_the_zone_range_passes_without_a_word() -> None:
    findings = Findings()
    check_depth(findings, depth=Decimal("0.5"), zone_label="Forehead", zone_range=FOREHEAD)
    assert (findings.errors, findings.warnings) == ({}, [])


def test_a_zone_without_a_range_warns_about_nothing() -> None:
    findings = Findings()
    check_depth(findings, depth=Decimal("1.2"), zone_label="Neck", zone_range=DepthRange(None, None))
    assert (findings.errors, findings.warnings) == ({}, [])


def test_mesotherapy_without_a_mid_dermis_range_is_refused_until_the_clinic_sets_one() -> None:
    findings = Findings()
    check_depth(findings, depth=Decimal("1.8"), zone_label="Chin", zone_range=DepthRange(None, None), mid_dermis=True)
    assert findings.errors == {
        "depth_mm": [
            "The clinic has not set the mid-dermis depth range for Chin in the mesotherapy protocol; "
            "a physician sets it in the catalogue first."
        ]
    }


def test_depths_are_written_as_clinicians_write_them() -> None:
    assert [rules.mm(Decimal(v)) for v in ("1.50", "2.00", "0.25", "10")] == ["1.5", "2", "0.25", "10"]
    assert DepthRange(Decimal("2.0"), Decimal("4.0")).text() == "2–4 mm"


@given(depth=depths)
def test_a_depth_is_refused_or_warned_or_accepted_never_two_at_once(depth: Decimal) -> None:
    findings = Findings()
    check_depth(
        findings,
        depth=depth,
        zone_label="Forehead",
        zone_range=FOREHEAD,
        device_label="pen",
        device_max=Decimal("2.5"),
    )
    refused, warned = bool(findings.errors), bool(findings.warnings)
    assert not (refused and warned)
    assert refused == (depth <= 0 or depth > Decimal("2.5"))
    assert warned == (Decimal(0) < depth <= Decimal("2.5") and not FOREHEAD.contains(depth))


@given(depth=depths)
def test_mesotherapy_is_never_only_warned(depth: Decimal) -> None:
    findings = Findings()
    check_depth(findings, depth=depth, zone_label="Forehead", zone_range=MID_DERMIS, mid_dermis=True)
    assert findings.warnings == []
    assert bool(findings.errors) == (not MID_DERMIS.contains(depth))


def test_every_known_zone_has_a_shape_and_unknown_zones_get_rows_under_the_map() -> None:
    face = [{"code": code, "label": code} for code in bodymaps.FACE]
    view = bodymaps.map_view("face", face)
    assert [z["code"] for z in view["zones"]] == list(bodymaps.FACE) and view["viewbox"] == "0 0 320 400"
    extra = [{"code": f"extra_{n}", "label": f"Extra {n}"} for n in range(5)]
    view = bodymaps.map_view("face", face[:1] + extra)
    placed = [(z["shape"].label_x, z["shape"].label_y) for z in view["zones"][1:]]
    assert len(set(placed)) == 5  # no two on the same spot
    assert view["viewbox"] == "0 0 320 504"  # two more rows of 48, and a margin
