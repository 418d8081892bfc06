"""Two staff members, one syringe, the same moment: the product's row lock serialises the bedside.

Each race runs two service calls in two threads, each thread with its own PostgreSQL connection,
released together by a barrier; every race is run ``ROUNDS`` times with a fresh product. Whatever
order the database picks, exactly one of two conflicting actions may win and the product's event
log must stay one consistent chain. One test forces the interleaving: the second verification is
seen waiting on the lock while the first is still uncommitted.

PostgreSQL only (the ``postgres`` marker): SQLite serialises whole transactions, so it proves nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from prpclinic.audit.models import AuditPending
from prpclinic.audit.services import audit_verify_all
from prpclinic.prp.models import (
    Application,
    Incident,
    IncidentStatus,
    Product,
    ProductEvent,
    ProductStatus,
    Verification,
    VerificationResult,
)
from prpclinic.prp.services import bedside, draw, spin
from tests.conftest import Chain, Personas, clinic_request, make_patient, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = ProductStatus
R = VerificationResult
ROUNDS = 5
ZONES = [{"zone": "vertex", "volume_ml": "2"}]


@dataclass
class Outcome:
    """What one racer got: the service's answer, or the ValidationError it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def won(self) -> bool:
        return self.error is None


def race(*calls: Callable[[], Any]) -> list[Outcome]:
    """Run ``calls`` at the same moment, each in its own thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    outcomes = [Outcome() for _ in calls]

    def run(call: Callable[[], Any], outcome: Outcome) -> None:
        try:
            connection.ensure_connection()  # connect first, so that the barrier releases the calls themselves
            barrier.wait(timeout=10)
            outcome.value = call()
        except BaseException as exc:  # judged below, in the main thread
            outcome.error = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in zip(calls, outcomes, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished (a deadlock?)"
    unexpected = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, ValidationError)]
    assert unexpected == [], unexpected
    return outcomes


@dataclass
class Bedside:
    """Two nurses and a physician of clinic A, and the chain fixture's patient at her visit."""

    nurse: Any
    second_nurse: Any
    physician: Any
    chain: Chain

    @property
    def wristband(self) -> str:
        return f"PT-{self.chain.patient.mrn}"

    def prepared_product(self) -> Product:
        """A fresh product of the chain's patient, drawn, spun twice and prepared (committed)."""
        now = timezone.now()
        product = draw.blood_draw(
            request=self.nurse,
            visit_id=self.chain.visit.pk,
            drawn_at=now - dt.timedelta(minutes=60),
            site="antecubital_left",
            volume_ml=Decimal("18"),
            tube_count=2,
            tube_lot_id=self.chain.tube_lot.pk,
            kit_lot_id=self.chain.kit_lot.pk,
            anticoagulant="sodium_citrate_3_2",
            identity_check="scan",
            scanned_code=self.wristband,
        )
        for minutes in (55, 44):
            spin.spin_start(
                request=self.nurse,
                product_id=product.pk,
                centrifuge_id=self.chain.centrifuge.pk,
                program_id=self.chain.program.pk,
                started_at=now - dt.timedelta(minutes=minutes),
            )
        return spin.product_prepare(
            request=self.nurse, product_id=product.pk, prepared_at=now - dt.timedelta(minutes=30), volume_ml=Decimal(3)
        )

    def verified_product(self) -> Product:
        product = self.prepared_product()
        result = self.verify(self.nurse, product)
        assert result.result == R.MATCH
        return product

    def verify(self, request: Any, product: Product, wristband: str | None = None) -> Verification:
        return bedside.product_verify_at_bedside(
            request=request, patient_code=wristband or self.wristband, product_code=product.barcode
        )

    def apply(self, request: Any, product: Product) -> Application:
        return bedside.product_apply(
            request=request,
            product_id=product.pk,
            patient_id=self.chain.patient.pk,
            visit_id=self.chain.visit.pk,
            zones=ZONES,
        )

    def discard(self, request: Any, product: Product) -> Product:
        return bedside.product_discard(request=request, product_id=product.pk, reason="not needed after all")


@pytest.fixture
def team(personas: Personas, chain: Chain) -> Bedside:
    clinic = personas.clinic_a
    second = make_user("nurse2@a.test", "Nora Nurse", clinic, "nurse")
    return Bedside(
        nurse=clinic_request(personas.nurse, clinic),
        second_nurse=clinic_request(second, clinic),
        physician=clinic_request(personas.physician, clinic),
        chain=chain,
    )


def moves(product: Product) -> list[tuple[str, str]]:
    return list(ProductEvent.objects.filter(product=product).order_by("id").values_list("from_status", "to_status"))


def assert_log_is_one_chain(product: Product) -> None:
    """Each move starts where the previous one ended, and the last one ends at the current status."""
    product.refresh_from_db()
    log = moves(product)
    assert log[0] == ("", S.DRAWN)
    assert all(frm == previous_to for (_, previous_to), (frm, _) in itertools.pairwise(log)), log
    assert log[-1][1] == product.status, (log, product.status)


def assert_audit_sealed_and_intact() -> None:
    assert not AuditPending.objects.exists(), "an audit event was left unsealed after its commit"
    assert all(report.ok for report in audit_verify_all())


def test_two_nurses_verifying_the_same_syringe_at_once_get_one_match_and_one_refusal(team: Bedside) -> None:
    for _ in range(ROUNDS):
        product = team.prepared_product()
        outcomes = race(
            lambda p=product: team.verify(team.nurse, p), lambda p=product: team.verify(team.second_nurse, p)
        )
        results = sorted(o.value.result for o in outcomes)
        assert results == sorted([R.MATCH, R.REFUSED])
        refusal = next(o.value for o in outcomes if o.value.result == R.REFUSED)
        assert "already verified" in refusal.reason
        assert moves(product).count((S.PREPARED, S.VERIFIED)) == 1
        assert Verification.objects.filter(product=product).count() == 2
        assert_log_is_one_chain(product)
        assert product.status == S.VERIFIED
    assert_audit_sealed_and_intact()


def test_two_nurses_applying_the_same_verified_syringe_at_once_record_one_application(team: Bedside) -> None:
    for _ in range(ROUNDS):
        product = team.verified_product()
        outcomes = race(lambda p=product: team.apply(team.nurse, p), lambda p=product: team.apply(team.second_nurse, p))
        assert sorted(o.won for o in outcomes) == [False, True]
        loser = next(o for o in outcomes if not o.won)
        assert "is applied" in str(loser.error)
        assert Application.objects.filter(product=product).count() == 1
        assert moves(product).count((S.VERIFIED, S.APPLIED)) == 1
        assert_log_is_one_chain(product)
        assert product.status == S.APPLIED
    assert_audit_sealed_and_intact()


def test_a_discard_racing_an_application_lets_exactly_one_of_them_happen(team: Bedside) -> None:
    winners: Counter[str] = Counter()
    for _ in range(ROUNDS):
        product = team.verified_product()
        applying, discarding = race(
            lambda p=product: team.apply(team.nurse, p), lambda p=product: team.discard(team.second_nurse, p)
        )
        assert applying.won != discarding.won, (applying, discarding)
        product.refresh_from_db()
        if applying.won:
            winners["apply"] += 1
            assert product.status == S.APPLIED and "cannot become discarded" in str(discarding.error)
            assert Application.objects.filter(product=product).count() == 1
        else:
            winners["discard"] += 1
            assert product.status == S.DISCARDED and "is discarded" in str(applying.error)
            assert not Application.objects.filter(product=product).exists()
        assert_log_is_one_chain(product)
    assert sum(winners.values()) == ROUNDS
    assert_audit_sealed_and_intact()


def test_a_discard_racing_a_verification_ends_discarded_with_a_consistent_log(team: Bedside) -> None:
    for _ in range(ROUNDS):
        product = team.prepared_product()
        verifying, discarding = race(
            lambda p=product: team.verify(team.nurse, p), lambda p=product: team.discard(team.second_nurse, p)
        )
        # Both are allowed in either order: a verified syringe may still be discarded.
        assert verifying.won and discarding.won
        product.refresh_from_db()
        assert product.status == S.DISCARDED
        if verifying.value.result == R.MATCH:  # the scan came first
            assert moves(product)[-2:] == [(S.PREPARED, S.VERIFIED), (S.VERIFIED, S.DISCARDED)]
        else:  # the discard came first: the scan sees a discarded product
            assert verifying.value.result == R.REFUSED and "discarded" in verifying.value.reason
            assert moves(product)[-1] == (S.PREPARED, S.DISCARDED)
            assert (S.PREPARED, S.VERIFIED) not in moves(product)
        assert_log_is_one_chain(product)
    assert_audit_sealed_and_intact()


def test_a_right_and_a_wrong_patient_scan_at_once_quarantine_the_product_with_one_incident(
    team: Bedside, personas: Personas
) -> None:
    other = make_patient(personas.clinic_a, given_name="Paul", family_name="Novak", mrn="A000200")
    for _ in range(ROUNDS):
        product = team.prepared_product()
        right, wrong = race(
            lambda p=product: team.verify(team.nurse, p),
            lambda p=product: team.verify(team.second_nurse, p, f"PT-{other.mrn}"),
        )
        assert wrong.value.result == R.MISMATCH
        product.refresh_from_db()
        assert product.status == S.QUARANTINED
        incident = Incident.objects.get(product=product)
        assert (incident.status, incident.donor_id, incident.scanned_patient_id) == (
            IncidentStatus.OPEN,
            team.chain.patient.pk,
            other.pk,
        )
        if right.value.result == R.MATCH:  # the right scan came first, the wrong one quarantined it
            assert product.status_before_quarantine == S.VERIFIED
            assert moves(product)[-2:] == [(S.PREPARED, S.VERIFIED), (S.VERIFIED, S.QUARANTINED)]
        else:
            assert right.value.result == R.REFUSED and "quarantined" in right.value.reason
            assert product.status_before_quarantine == S.PREPARED
            assert moves(product)[-1] == (S.PREPARED, S.QUARANTINED)
        assert_log_is_one_chain(product)
        # Whoever won, the syringe cannot be applied until a physician decides.
        with pytest.raises(ValidationError):
            team.apply(team.nurse, product)
    assert_audit_sealed_and_intact()


def waiting_on_a_lock() -> int:
    """How many other connections to this database wait for a lock while selecting a product.

    (``pg_stat_activity.query`` is cut at 1 kB, before the ``FOR UPDATE`` of the long select.)
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            ['SELECT "prp_product".%'],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def test_a_second_verification_waits_for_the_first_to_commit_and_is_then_refused(team: Bedside) -> None:
    """The interleaving forced: the first nurse's match is not committed yet when the second scans."""
    product = team.prepared_product()
    first_verified, second_waits = threading.Event(), threading.Event()
    outcomes = [Outcome(), Outcome()]

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes[0].value = team.verify(team.nurse, product)
                first_verified.set()
                assert second_waits.wait(timeout=20), "the second scan never waited for the lock"
        except BaseException as exc:
            outcomes[0].error = exc
        finally:
            first_verified.set()
            connections.close_all()

    def second() -> None:
        try:
            assert first_verified.wait(timeout=20)
            outcomes[1].value = team.verify(team.second_nurse, product)
        except BaseException as exc:
            outcomes[1].error = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    seen_waiting, deadline = False, time.monotonic() + 20
    while not seen_waiting and time.monotonic() < deadline:
        seen_waiting = waiting_on_a_lock() > 0
        time.sleep(0.01)
    second_waits.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert seen_waiting, "the second verification did not wait for the first one's row lock"
    assert [o.error for o in outcomes] == [None, None]
    assert (outcomes[0].value.result, outcomes[1].value.result) == (R.MATCH, R.REFUSED)
    assert "already verified" in outcomes[1].value.reason
    assert moves(product).count((S.PREPARED, S.VERIFIED)) == 1
    assert_log_is_one_chain(product)
    assert_audit_sealed_and_intact()
