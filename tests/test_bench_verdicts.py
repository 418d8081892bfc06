"""``make bench``'s verdicts: each target is shown with its own figure, so a reader sees which one holds."""

from __future__ import annotations

from bench.run import Result, judge, table


def _result(endpoint: str, clients: int, rps: float, p95_ms: float) -> Result:
    return Result(
        endpoint=endpoint, clients=clients, requests=int(rps * 10), rps=rps,
        p50_ms=p95_ms / 2, p95_ms=p95_ms, p99_ms=p95_ms * 1.2, max_ms=p95_ms * 2, errors=0,
    )  # fmt: skip


def test_a_page_meeting_its_p95_but_not_its_ratio_says_so() -> None:
    results = [
        _result("healthz", 4, 1000, 4.0),
        _result("search", 4, 220, 31.6),  # 22 % of /healthz, p95 under 50 ms
        _result("chart", 4, 300, 62.7),  # 30 % of /healthz, p95 over 50 ms
    ]
    assert judge(results) is False
    search, chart = results[1], results[2]
    assert search.verdict == "FAIL" and search.checks == ["22.0% >= 40%: missed", "p95 31.60 < 50 ms: met"]
    assert chart.verdict == "FAIL" and chart.checks == ["30.0% >= 25%: met", "p95 62.70 < 50 ms: missed"]
    printed = table("granian", results)
    assert "FAIL (22.0% >= 40%: missed; p95 31.60 < 50 ms: met)" in printed
    assert "FAIL (30.0% >= 25%: met; p95 62.70 < 50 ms: missed)" in printed


def test_every_target_met_passes_and_16_clients_have_no_p95_target() -> None:
    results = [
        _result("healthz", 4, 1000, 4.0),
        _result("healthz", 16, 2000, 9.0),
        _result("search", 4, 450, 20.0),
        _result("search", 16, 900, 80.0),  # p95 is only a target at 4 clients
        _result("chart", 4, 260, 40.0),
        _result("chart", 16, 520, 120.0),
    ]
    assert judge(results) is True
    assert [r.verdict for r in results if r.endpoint != "healthz"] == ["PASS"] * 4
    assert results[3].checks == ["45.0% >= 40%: met"]


def test_a_figure_just_short_of_its_target_does_not_print_as_the_target() -> None:
    results = [_result("healthz", 4, 1000, 4.0), _result("search", 4, 398, 49.996), _result("chart", 4, 250, 50.004)]
    judge(results)
    assert results[1].checks == ["39.8% >= 40%: missed", "p95 50.00 < 50 ms: missed"]  # 49.996 is not under 50.00
    assert results[2].checks == ["25.0% >= 25%: met", "p95 50.01 < 50 ms: missed"]
    assert [r.verdict for r in results[1:]] == ["FAIL", "FAIL"]
