"""The planner's command line (issue point 7): the pure ``prpclinic.planner.cli`` and the thin Django
management command ``prpclinic planner`` over it."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prpclinic.planner import cli
from prpclinic.planner.geometry import TUBE_15ML_CONICAL, TUBE_16X100_ROUND
from prpclinic.planner.model import predict
from prpclinic.planner.protocol import (
    Blood,
    KeepLowerFraction,
    KeepLowerVolume,
    PlasmaAboveBuffy,
    Spin,
    Step,
    UpperPlasmaLayer,
    UpperVolume,
)

ONE = ["--volume-ml", "10", "--hct", "0.42", "--platelets", "250000", "--g", "300", "--minutes", "5"]
TWO = [*ONE, "--g2", "700", "--minutes2", "12"]


def test_one_spin_without_a_prp_volume_uses_the_default_harvest() -> None:
    result = cli.run(ONE)
    blood = Blood(10.0, 0.42, 250_000)
    ref = predict(TUBE_15ML_CONICAL, blood, (Step(Spin(300, 5), PlasmaAboveBuffy(2.0)),))
    assert result["recovery"] == pytest.approx(ref.platelet_recovery)
    assert result["concentration_factor"] == pytest.approx(ref.concentration_factor)
    assert result["platelets_per_uL"] == pytest.approx(ref.platelets_per_ul)
    assert result["dose_billion"] == pytest.approx(ref.dose / 1e9)
    assert 0 < result["recovery"] < 1
    assert result["steps"][0]["harvest"] == PlasmaAboveBuffy(2.0).describe()
    assert any("no --prp-ml" in note for note in result["notes"])


def test_two_spins_with_a_prp_volume_keep_it_at_the_bottom() -> None:
    result = cli.run([*TWO, "--prp-ml", "1.5", "--anticoagulant-ml", "1.1", "--wbc", "6500"])
    blood = Blood(10.0, 0.42, 250_000, 1.1, 6500)
    steps = (Step(Spin(300, 5), UpperPlasmaLayer()), Step(Spin(700, 12), KeepLowerVolume(1.5)))
    ref = predict(TUBE_15ML_CONICAL, blood, steps)
    assert result["recovery"] == pytest.approx(ref.platelet_recovery)
    assert result["volume_ml"] == pytest.approx(1.5)
    assert result["wbc_per_uL"] == pytest.approx(ref.wbc_per_ul)
    assert [s["harvest"] for s in result["steps"]] == [UpperPlasmaLayer().describe(), KeepLowerVolume(1.5).describe()]
    assert cli.run(TWO)["steps"][1]["harvest"] == KeepLowerFraction(1 / 3).describe()
    assert cli.run([*ONE, "--prp-ml", "3"])["steps"][0]["harvest"] == UpperVolume(3.0).describe()


def test_json_output_is_one_object_with_the_product() -> None:
    text = cli.render(cli.run(TWO), as_json=True)
    data = json.loads(text)
    assert {"recovery", "concentration_factor", "platelets_per_uL", "dose_billion"} <= data.keys()
    assert 0 <= data["recovery"] <= 1
    assert data["inputs"]["hematocrit"] == 0.42
    human = cli.render(cli.run(TWO))
    assert "recovery" in human and "spin 2: 700 g x 12 min" in human


def test_a_percentage_hematocrit_and_thousands_of_platelets_are_converted() -> None:
    fraction = cli.run(ONE)
    converted = cli.run(["--volume-ml", "10", "--hct", "42", "--platelets", "250", "--g", "300", "--minutes", "5"])
    assert converted["recovery"] == pytest.approx(fraction["recovery"])
    assert converted["inputs"]["platelets_per_uL"] == 250_000
    assert any("percentage" in note for note in converted["notes"])
    assert any("10³/µL" in note for note in converted["notes"])


def test_tubes_and_calibration_options() -> None:
    named = cli.run([*ONE, "--tube", "16x100-round"])
    assert named["inputs"]["tube"] == TUBE_16X100_ROUND.name
    custom = cli.parse_tube("14.5x117:conical:22")
    assert (custom.inner_diameter_mm, custom.inner_length_mm, custom.bottom, custom.cone_height_mm) == (
        14.5,
        117.0,
        "conical",
        22.0,
    )
    slower = cli.run([*ONE, "--g-scale", "0.5"])
    assert slower["recovery"] == pytest.approx(cli.run(["--g", "150", *ONE[:6], "--minutes", "5"])["recovery"])
    lossy = cli.run([*ONE, "--harvest-yield", "0.9"])
    assert lossy["recovery"] == pytest.approx(0.9 * cli.run(ONE)["recovery"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--hct", "0.85"], "outside 0.1-0.7"),
        (["--hct", "0.05"], "outside 0.1-0.7"),
        (["--hct", "85"], "outside 0.1-0.7"),
        (["--volume-ml", "0"], "--volume-ml must be greater than 0"),
        (["--volume-ml", "30"], "does not fit"),
        (["--g", "-100"], "--g must be greater than 0"),
        (["--minutes", "0"], "--minutes must be greater than 0"),
        (["--platelets", "0"], "--platelets must be greater than 0"),
        (["--g2", "400"], "both --g2 and --minutes2"),
        (["--prp-ml", "12"], "not less than"),
        (["--prp-ml", "-1"], "--prp-ml must be greater than 0"),
        (["--anticoagulant-ml", "-1"], "cannot be negative"),
        (["--tube", "14x100:weird"], "flat, round or conical"),
        (["--tube", "big"], "--tube 'big'"),
        (["--tube", "14x100:conical"], "cone height"),
        (["--rotor-radius-cm", "5"], "rotor radius"),
        (["--harvest-yield", "1.5"], "at most 1"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(change: list[str], message: str) -> None:
    with pytest.raises(cli.PlannerInputError, match=re.escape(message)):
        cli.run([*ONE, *change])


def test_malformed_options_stop_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.run([*ONE, "--g", "abc"])
    with pytest.raises(SystemExit):
        cli.run(ONE[2:])  # no --volume-ml
    assert "usage: prpclinic planner" in capsys.readouterr().err


def test_main_prints_or_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*ONE, "--json"]) == 0
    assert "recovery" in json.loads(capsys.readouterr().out)
    assert cli.main([*ONE, "--hct", "0.9"]) == 2
    assert "error: --hct 0.9" in capsys.readouterr().err


def test_the_management_command_prints_the_prediction() -> None:
    out = StringIO()
    call_command("planner", *TWO, "--prp-ml", "1.5", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["recovery"] == pytest.approx(cli.run([*TWO, "--prp-ml", "1.5"])["recovery"])
    assert {"concentration_factor", "platelets_per_uL", "dose_billion"} <= data.keys()
    text = StringIO()
    call_command("planner", *ONE, stdout=text)
    assert "concentration factor" in text.getvalue()
    with pytest.raises(CommandError, match=re.escape("outside 0.1-0.7")):
        call_command("planner", *ONE, "--hct", "0.95")
