"""Stateful property test of the PRP chain of custody.

Hypothesis plays a busy treatment room: draws for three patients, spins, preparation, bedside
scans against the right or a wrong patient, time passing beyond the use-by limit, discards,
quarantines, physician releases and applications to any patient and visit, by a nurse, a
physician or the front desk. After every step the safety properties of the whole database are
checked (PRP reaches only its donor, never after expiry, never twice; every status move is in
the product's event log), and each service answer is compared with a small model of what it
should answer.

Each example runs in a savepoint that is rolled back in ``teardown``, so the examples share only
the clinic, its staff, devices, lots, patients and visits set up once by the test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from prpclinic.patients.models import Patient
from prpclinic.prp.models import (
    Application,
    BloodDraw,
    Incident,
    IncidentStatus,
    Product,
    ProductEvent,
    ProductStatus,
    Spin,
    Verification,
    VerificationResult,
)
from prpclinic.prp.services import bedside, draw, spin
from prpclinic.visits.models import Visit
from tests.conftest import Chain, Personas, clinic_request, make_patient

S = ProductStatus
R = VerificationResult
DRAWN_ML = Decimal("18")
PREPARED_ML = Decimal("3")
# The moves the state diagram allows (prp/services/state.py docstring), written out independently.
MOVES: frozenset[tuple[str, str]] = frozenset(
    {("", S.DRAWN), (S.DRAWN, S.SPUN), (S.SPUN, S.PREPARED), (S.PREPARED, S.VERIFIED), (S.VERIFIED, S.APPLIED)}
    | {(s, end) for s in (S.DRAWN, S.SPUN, S.PREPARED, S.VERIFIED) for end in (S.DISCARDED, S.QUARANTINED)}
    | {(S.QUARANTINED, back) for back in (S.DRAWN, S.SPUN, S.PREPARED, S.DISCARDED)}
)
ACTORS = ("nurse", "physician", "front_desk")
HANDLERS = frozenset({"nurse", "physician"})
PATIENTS = st.integers(0, 2)
STAFF = st.sampled_from(["nurse", "physician"])
STYLES = ("exact", "lower", "padded")
VOLUMES = st.sampled_from(["1.5", "3", "3.5"])
# (the donor?, the donor's visit?) for a verified syringe given at the bedside; not both.
WHOM = [(True, False), (False, True), (False, False)]
# Models whose timestamps move back together when the clock jumps forward.
TIMED_MODELS: tuple[type[models.Model], ...] = (
    Visit,
    BloodDraw,
    Product,
    ProductEvent,
    Spin,
    Verification,
    Incident,
    Application,
)


def some(status: str) -> Callable[[Any], bool]:
    """A rule's precondition: some product is in ``status`` (in the model)."""
    return lambda machine: any(exp.status == status for exp in machine.expected.values())


def minutes_ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


@dataclass(frozen=True)
class World:
    """What every example shares: staff requests, three patients each with an open visit."""

    requests: dict[str, Any]
    chain: Chain
    patients: tuple[Patient, ...]
    visits: tuple[Visit, ...]
    expiry: dt.timedelta


@dataclass
class Expected:
    """The model of one product: what the services should have made of it so far."""

    donor: int
    status: str = S.DRAWN
    spins: int = 0
    expires_at: dt.datetime | None = None
    before_quarantine: str = ""
    last_scan: str = ""
    open_incidents: int = 0


def wristband(patient: Patient, style: str) -> str:
    """The patient's wristband as a scanner or a hurried hand may deliver it."""
    code = f"PT-{patient.mrn}"
    return {"exact": code, "lower": code.lower(), "padded": f"  {code}\n"}[style]


class ChainOfCustody(RuleBasedStateMachine):
    world: ClassVar[World]
    products = Bundle("products")

    def __init__(self) -> None:
        super().__init__()
        # One savepoint per example, rolled back in teardown: every example starts from the world.
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.expected: dict[int, Expected] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------------

    def request(self, actor: str) -> Any:
        return self.world.requests[actor]

    def snapshot(self, product_id: int) -> tuple[Any, ...]:
        """The product's state and how many records hang on it, in one query."""
        return (
            Product.objects.filter(pk=product_id)
            .annotate(
                n_events=Count("events", distinct=True),
                n_scans=Count("verifications", distinct=True),
                n_incidents=Count("incidents", distinct=True),
                n_open=Count("incidents", filter=Q(incidents__status=IncidentStatus.OPEN), distinct=True),
                n_applications=Count("application", distinct=True),
                n_spins=Count("spins", distinct=True),
            )
            .values_list(
                "status", "status_before_quarantine", "expires_at", "n_events", "n_scans", "n_incidents",
                "n_open", "n_applications", "n_spins",
            )
            .get()
        )  # fmt: skip

    def refused(self, product_id: int, error: type[Exception], call: Callable[[], object]) -> None:
        """``call`` must raise ``error`` and leave the product and its records as they were."""
        before = self.snapshot(product_id)
        with pytest.raises(error):
            call()
        assert self.snapshot(product_id) == before
        event(f"{call.__qualname__.split('.')[1]}: {error.__name__}")

    def last_move_by(self, product_id: int, actor: str, to: str) -> None:
        last = ProductEvent.objects.filter(product_id=product_id).latest("id")
        assert (last.to_status, last.actor_id) == (to, self.request(actor).user.pk)
        event(f"moved to {to}")

    def expired(self, exp: Expected) -> bool:
        assert exp.expires_at is not None
        margin = exp.expires_at - timezone.now()
        # Times are set whole minutes plus 30 s apart, so a product is never within seconds of expiry.
        assert abs(margin) > dt.timedelta(seconds=10), "the model cannot tell whether this product has expired"
        return margin <= dt.timedelta(0)

    def picked(self, data: st.DataObject, status: str) -> int:
        return data.draw(st.sampled_from(sorted(pk for pk, exp in self.expected.items() if exp.status == status)))

    # -- actions: call a service, and check its answer against the model -------------------------

    def do_draw(self, patient: int, band: int, actor: str) -> int | None:
        """A draw at the patient's visit with a wristband scanned: the product id, or None if refused."""
        count = Product.objects.count()

        def call() -> Product:
            return draw.blood_draw(
                request=self.request(actor),
                visit_id=self.world.visits[patient].pk,
                drawn_at=minutes_ago(60),
                site="antecubital_left",
                volume_ml=DRAWN_ML,
                tube_count=2,
                tube_lot_id=self.world.chain.tube_lot.pk,
                kit_lot_id=self.world.chain.kit_lot.pk,
                anticoagulant="sodium_citrate_3_2",
                identity_check="scan",
                scanned_code=wristband(self.world.patients[band], "exact"),
            )

        if actor not in HANDLERS or band != patient:
            error = PermissionDenied if actor not in HANDLERS else ValidationError
            with pytest.raises(error):
                call()
            assert Product.objects.count() == count
            event(f"draw: {error.__name__}")
            return None
        product = call()
        assert (product.status, product.patient_id) == (S.DRAWN, self.world.patients[patient].pk)
        self.expected[product.pk] = Expected(donor=patient)
        event("moved to drawn")
        return product.pk

    def do_spin(self, product: int, actor: str) -> None:
        exp = self.expected[product]

        def call() -> Spin:
            return spin.spin_start(
                request=self.request(actor),
                product_id=product,
                centrifuge_id=self.world.chain.centrifuge.pk,
                program_id=self.world.chain.program.pk,
                started_at=minutes_ago(55 if exp.spins == 0 else 44),
            )

        if actor not in HANDLERS:
            return self.refused(product, PermissionDenied, call)
        if exp.status not in (S.DRAWN, S.SPUN) or exp.spins == 2:
            return self.refused(product, ValidationError, call)
        result = call()
        exp.spins += 1
        assert result.number == exp.spins
        if exp.status == S.DRAWN:
            exp.status = S.SPUN
            self.last_move_by(product, actor, S.SPUN)

    def do_prepare(self, product: int, actor: str, volume: Decimal) -> None:
        # Whole minutes plus 30 s before now: with whole-minute clock jumps, never within seconds of expiry.
        prepared_at = minutes_ago(30.5)

        def call() -> Product:
            return spin.product_prepare(
                request=self.request(actor),
                product_id=product,
                prepared_at=prepared_at,
                volume_ml=volume,
                platelets_k_per_ul=Decimal("1050"),
            )

        exp = self.expected[product]
        if actor not in HANDLERS:
            return self.refused(product, PermissionDenied, call)
        if exp.status != S.SPUN or volume > DRAWN_ML:
            return self.refused(product, ValidationError, call)
        result = call()
        exp.status, exp.expires_at = S.PREPARED, prepared_at + self.world.expiry
        assert (result.prepared_at, result.expires_at) == (prepared_at, exp.expires_at)
        self.last_move_by(product, actor, S.PREPARED)

    def do_scan(self, product: int, patient: int, actor: str, style: str = "exact", lower: bool = False) -> None:
        exp = self.expected[product]
        barcode = Product.objects.get(pk=product).barcode
        scanned = self.world.patients[patient]

        def call() -> Verification:
            return bedside.product_verify_at_bedside(
                request=self.request(actor),
                patient_code=wristband(scanned, style),
                product_code=barcode.lower() if lower else barcode,
            )

        if actor not in HANDLERS:
            return self.refused(product, PermissionDenied, call)
        if patient != exp.donor:
            expected = R.MISMATCH
            exp.open_incidents += 1
            if exp.status not in (S.APPLIED, S.DISCARDED, S.QUARANTINED):
                exp.before_quarantine, exp.status = exp.status, S.QUARANTINED
        elif exp.status != S.PREPARED or self.expired(exp):
            expected = R.REFUSED
            event(f"scan refused: {'expired' if exp.status == S.PREPARED else exp.status}")
        else:
            expected, exp.status = R.MATCH, S.VERIFIED
        result = call()
        exp.last_scan = expected
        assert (result.result, result.product_id, result.patient_id) == (expected, product, scanned.pk), result.reason
        event(f"scan: {expected}")
        if expected == R.MISMATCH:
            incident = Incident.objects.get(verification=result)
            assert (incident.product_id, incident.status) == (product, IncidentStatus.OPEN)
            assert (incident.donor_id, incident.scanned_patient_id) == (self.world.patients[exp.donor].pk, scanned.pk)
        if expected == R.MATCH:
            self.last_move_by(product, actor, S.VERIFIED)

    def do_apply(self, product: int, patient: int, visit: int, actor: str, volume: str) -> None:
        exp = self.expected[product]

        def call() -> Application:
            return bedside.product_apply(
                request=self.request(actor),
                product_id=product,
                patient_id=self.world.patients[patient].pk,
                visit_id=self.world.visits[visit].pk,
                zones=[{"zone": "vertex", "volume_ml": volume}],
            )

        if actor not in HANDLERS:
            return self.refused(product, PermissionDenied, call)
        allowed = (
            exp.status == S.VERIFIED
            and patient == exp.donor
            and visit == exp.donor
            and Decimal(volume) <= PREPARED_ML
            and not self.expired(exp)
        )
        if not allowed:
            if exp.status == S.VERIFIED and self.expired(exp):
                event("apply refused: expired after verification")
            return self.refused(product, ValidationError, call)
        application = call()
        exp.status = S.APPLIED
        assert (application.product_id, application.patient_id, application.visit_id) == (
            product,
            self.world.patients[exp.donor].pk,
            self.world.visits[exp.donor].pk,
        )
        assert application.remainder_ml == PREPARED_ML - Decimal(volume)
        self.last_move_by(product, actor, S.APPLIED)

    def do_discard(self, product: int, actor: str, reason: str) -> None:
        exp = self.expected[product]

        def call() -> Product:
            return bedside.product_discard(request=self.request(actor), product_id=product, reason=reason)

        if actor not in HANDLERS or (exp.status == S.QUARANTINED and actor != "physician"):
            return self.refused(product, PermissionDenied, call)
        if exp.status in (S.APPLIED, S.DISCARDED) or not reason.strip():
            return self.refused(product, ValidationError, call)
        call()
        if exp.status == S.QUARANTINED:
            exp.open_incidents = 0
        exp.status = S.DISCARDED
        self.last_move_by(product, actor, S.DISCARDED)

    def do_quarantine(self, product: int, actor: str, reason: str) -> None:
        exp = self.expected[product]

        def call() -> Product:
            return bedside.product_quarantine(request=self.request(actor), product_id=product, reason=reason)

        if actor not in HANDLERS:
            return self.refused(product, PermissionDenied, call)
        if exp.status not in (S.DRAWN, S.SPUN, S.PREPARED, S.VERIFIED) or not reason.strip():
            return self.refused(product, ValidationError, call)
        call()
        exp.before_quarantine, exp.status = exp.status, S.QUARANTINED
        self.last_move_by(product, actor, S.QUARANTINED)

    def do_release(self, product: int, actor: str, reason: str) -> None:
        exp = self.expected[product]

        def call() -> Product:
            return bedside.product_release(request=self.request(actor), product_id=product, reason=reason)

        if actor != "physician":
            return self.refused(product, PermissionDenied, call)
        if exp.status != S.QUARANTINED or not reason.strip():
            return self.refused(product, ValidationError, call)
        call()
        back = S.PREPARED if exp.before_quarantine == S.VERIFIED else exp.before_quarantine
        exp.status, exp.before_quarantine, exp.open_incidents = back, "", 0
        self.last_move_by(product, actor, back)

    def ready(self, patient: int, actor: str) -> int:
        """Draw, two spins and preparation: a product waiting at the bedside."""
        pk = self.do_draw(patient, patient, actor)
        assert pk is not None
        self.do_spin(pk, actor)
        self.do_spin(pk, actor)
        self.do_prepare(pk, actor, PREPARED_ML)
        return pk

    # -- rules: any action on any product, and a few guided ones that reach the bedside ------------

    @rule(target=products, patient=PATIENTS, actor=STAFF)
    def draw_blood(self, patient: int, actor: str) -> Any:
        pk = self.do_draw(patient, patient, actor)
        return multiple() if pk is None else pk

    @rule(target=products, patient=PATIENTS, band=PATIENTS)
    def draw_blood_scanning_any_wristband(self, patient: int, band: int) -> Any:
        """The wristband scanned may be another patient's: then nothing is drawn."""
        pk = self.do_draw(patient, band, "nurse")
        return multiple() if pk is None else pk

    @rule(target=products, patient=PATIENTS, actor=STAFF)
    def make_a_product_ready_for_the_bedside(self, patient: int, actor: str) -> Any:
        return self.ready(patient, actor)

    @rule(
        target=products,
        patient=PATIENTS,
        whom=st.sampled_from([(True, True), *WHOM]),
        shift=st.integers(1, 2),
        actor=STAFF,
        volume=VOLUMES,
    )
    def treat_a_patient_from_draw_to_application(
        self, patient: int, whom: tuple[bool, bool], shift: int, actor: str, volume: str
    ) -> Any:
        """Draw to bedside for one patient; the verified syringe given to her, or to someone else."""
        pk = self.ready(patient, actor)
        self.do_scan(pk, patient, actor)
        other = (patient + shift) % 3
        self.do_apply(pk, patient if whom[0] else other, patient if whom[1] else other, actor, volume)
        return pk

    @rule(product=products, actor=STAFF)
    def spin_once_more(self, product: int, actor: str) -> None:
        self.do_spin(product, actor)

    @rule(product=products, actor=STAFF, volume=st.sampled_from([PREPARED_ML, Decimal("25")]))
    def prepare(self, product: int, actor: str, volume: Decimal) -> None:
        self.do_prepare(product, actor, volume)

    @rule(product=products, patient=PATIENTS, actor=STAFF, style=st.sampled_from(STYLES), lower=st.booleans())
    def scan_at_bedside(self, product: int, patient: int, actor: str, style: str, lower: bool) -> None:
        self.do_scan(product, patient, actor, style, lower)

    @precondition(some(S.PREPARED))
    @rule(data=st.data(), actor=STAFF, style=st.sampled_from(STYLES))
    def scan_a_prepared_product_at_its_donors_bedside(self, data: st.DataObject, actor: str, style: str) -> None:
        product = self.picked(data, S.PREPARED)
        self.do_scan(product, self.expected[product].donor, actor, style)

    @precondition(some(S.VERIFIED))
    @rule(data=st.data(), at_donor=st.booleans(), shift=st.integers(1, 2), actor=STAFF)
    def scan_a_verified_product_again(self, data: st.DataObject, at_donor: bool, shift: int, actor: str) -> None:
        """A second scan of a verified syringe: at its donor (refused), or at someone else (incident)."""
        product = self.picked(data, S.VERIFIED)
        donor = self.expected[product].donor
        self.do_scan(product, donor if at_donor else (donor + shift) % 3, actor)

    @precondition(some(S.VERIFIED))
    @rule(data=st.data(), actor=STAFF)
    def double_check_at_the_bedside_then_apply(self, data: st.DataObject, actor: str) -> None:
        """A nurse scans a verified syringe once more at its donor's bedside, then gives it."""
        product = self.picked(data, S.VERIFIED)
        donor = self.expected[product].donor
        self.do_scan(product, donor, actor)
        self.do_apply(product, donor, donor, actor, "1.5")

    @rule(product=products, patient=PATIENTS, visit=PATIENTS, actor=STAFF, volume=VOLUMES)
    def apply(self, product: int, patient: int, visit: int, actor: str, volume: str) -> None:
        self.do_apply(product, patient, visit, actor, volume)

    @precondition(some(S.VERIFIED))
    @rule(data=st.data(), actor=STAFF, volume=VOLUMES)
    def apply_a_verified_product_to_its_donor(self, data: st.DataObject, actor: str, volume: str) -> None:
        product = self.picked(data, S.VERIFIED)
        donor = self.expected[product].donor
        self.do_apply(product, donor, donor, actor, volume)

    @precondition(some(S.VERIFIED))
    @rule(data=st.data(), whom=st.sampled_from(WHOM), shift=st.integers(1, 2), actor=STAFF)
    def apply_a_verified_product_to_someone_at_some_visit(
        self, data: st.DataObject, whom: tuple[bool, bool], shift: int, actor: str
    ) -> None:
        """The syringe verified for its donor, given to another patient and/or at another's visit."""
        product = self.picked(data, S.VERIFIED)
        donor, other = self.expected[product].donor, (self.expected[product].donor + shift) % 3
        patient, visit = (donor if whom[0] else other), (donor if whom[1] else other)
        self.do_apply(product, patient, visit, actor, "1.5")

    @rule(product=products, actor=STAFF, reason=st.sampled_from(["syringe dropped", "not needed", " "]))
    def discard(self, product: int, actor: str, reason: str) -> None:
        self.do_discard(product, actor, reason)

    @rule(product=products, actor=STAFF, reason=st.sampled_from(["label smudged", "doubt", ""]))
    def quarantine(self, product: int, actor: str, reason: str) -> None:
        self.do_quarantine(product, actor, reason)

    @rule(product=products, actor=STAFF, reason=st.sampled_from(["label checked", "scan of the neighbour", "  "]))
    def release(self, product: int, actor: str, reason: str) -> None:
        self.do_release(product, actor, reason)

    @precondition(some(S.QUARANTINED))
    @rule(data=st.data(), decision=st.sampled_from(["release", "discard"]), actor=STAFF)
    def decide_on_a_quarantined_product(self, data: st.DataObject, decision: str, actor: str) -> None:
        """A physician releases or discards it; a nurse may do neither."""
        product = self.picked(data, S.QUARANTINED)
        if decision == "release":
            self.do_release(product, actor, "label checked")
        else:
            self.do_discard(product, actor, "wrong-patient scan, not worth the risk")

    @rule(product=products, action=st.sampled_from(["spin", "prepare", "scan", "apply", "discard", "quarantine"]))
    def front_desk_tries(self, product: int, action: str) -> None:
        """The front desk may not touch the chain: every service answers PermissionDenied."""
        donor, who = self.expected[product].donor, "front_desk"
        {
            "spin": lambda: self.do_spin(product, who),
            "prepare": lambda: self.do_prepare(product, who, PREPARED_ML),
            "scan": lambda: self.do_scan(product, donor, who),
            "apply": lambda: self.do_apply(product, donor, donor, who, "1.5"),
            "discard": lambda: self.do_discard(product, who, "spilled"),
            "quarantine": lambda: self.do_quarantine(product, who, "doubt"),
        }[action]()

    def jump_clock(self, minutes: int) -> None:
        """The clock jumps forward: every recorded time moves back by as much (statuses untouched)."""
        delta = dt.timedelta(minutes=minutes)
        for model in TIMED_MODELS:
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)]
            model.objects.update(**{name: F(name) - delta for name in fields})
        for exp in self.expected.values():
            if exp.expires_at is not None:
                exp.expires_at -= delta

    @rule(minutes=st.sampled_from([5, 15, 60, 100, 230]))
    def time_passes(self, minutes: int) -> None:
        self.jump_clock(minutes)

    @precondition(lambda self: bool(self.fresh_at_the_bedside()))
    @rule(data=st.data(), actor=STAFF)
    def a_syringe_left_too_long_is_tried_at_the_bedside(self, data: st.DataObject, actor: str) -> None:
        """Time passes just beyond one syringe's use-by time (whole minutes, as always); then the
        nurse scans it (prepared) or gives it (verified) at its donor's bedside."""
        product = data.draw(st.sampled_from(self.fresh_at_the_bedside()))
        exp = self.expected[product]
        assert exp.expires_at is not None
        left = (exp.expires_at - timezone.now()) / dt.timedelta(minutes=1)
        self.jump_clock(int(left) + 1)
        assert self.expired(exp)
        event("a product expired at the bedside")
        if exp.status == S.PREPARED:
            self.do_scan(product, exp.donor, actor)
        else:
            self.do_apply(product, exp.donor, exp.donor, actor, "1.5")

    @precondition(lambda self: bool(self.fresh_at_the_bedside()))
    @rule(data=st.data(), shift=st.integers(1, 2), release=st.booleans())
    def a_wrong_patient_scan_is_reviewed_by_a_physician(self, data: st.DataObject, shift: int, release: bool) -> None:
        """The syringe is scanned at the wrong bedside, a physician releases or discards it, and
        the nurse scans it at its donor's bedside."""
        product = data.draw(st.sampled_from(self.fresh_at_the_bedside()))
        donor = self.expected[product].donor
        self.do_scan(product, (donor + shift) % 3, "nurse")
        if release:
            self.do_release(product, "physician", "label checked: the neighbour's wristband was scanned")
        else:
            self.do_discard(product, "physician", "wrong-patient scan")
        self.do_scan(product, donor, "nurse")

    def fresh_at_the_bedside(self) -> list[int]:
        return sorted(
            pk
            for pk, exp in self.expected.items()
            if exp.status in (S.PREPARED, S.VERIFIED) and exp.expires_at and exp.expires_at > timezone.now()
        )

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def the_chain_of_custody_holds(self) -> None:
        ledger = Ledger.read({v.pk: v.patient_id for v in self.world.visits})
        prp_reaches_only_its_donor_once_after_a_matching_scan_and_before_expiry(ledger)
        every_status_move_is_logged_and_the_log_is_one_consistent_chain(ledger)
        every_scan_and_incident_agrees_with_the_product_and_its_log(ledger)
        nothing_leaves_quarantine_while_its_incident_is_open(ledger)
        for product in ledger.products.values():
            if product.prepared_at is not None:
                assert product.expires_at == product.prepared_at + self.world.expiry
        self.the_database_is_what_the_model_expects(ledger)

    def the_database_is_what_the_model_expects(self, ledger: Ledger) -> None:
        assert set(ledger.products) == set(self.expected)
        for pk, exp in self.expected.items():
            product = ledger.products[pk]
            open_incidents = sum(1 for i in ledger.incidents if i.product_id == pk and i.status == IncidentStatus.OPEN)
            actual = (product.status, ledger.spins[pk], product.expires_at, open_incidents, product.patient_id)
            assert actual == (
                exp.status,
                exp.spins,
                exp.expires_at,
                exp.open_incidents,
                self.world.patients[exp.donor].pk,
            )


@dataclass
class Ledger:
    """Every PRP record, read once after each step (few queries, then plain Python)."""

    products: dict[int, Product]
    events: dict[int, list[ProductEvent]]
    verifications: dict[int, list[Verification]]
    incidents: list[Incident]
    applications: list[Application]
    spins: dict[int, int]
    visit_patients: dict[int, int]

    @classmethod
    def read(cls, visit_patients: dict[int, int]) -> Ledger:
        events: dict[int, list[ProductEvent]] = defaultdict(list)
        for e in ProductEvent.objects.order_by("id"):
            events[e.product_id].append(e)
        verifications: dict[int, list[Verification]] = defaultdict(list)
        for v in Verification.objects.order_by("id"):
            assert v.product_id is not None
            verifications[v.product_id].append(v)
        products = {p.pk: p for p in Product.objects.annotate(n_spins=Count("spins"))}
        return cls(
            products=products,
            events=events,
            verifications=verifications,
            incidents=list(Incident.objects.order_by("id")),
            applications=list(Application.objects.order_by("id")),
            spins={pk: p.n_spins for pk, p in products.items()},  # type: ignore[attr-defined]
            visit_patients=visit_patients,
        )

    def moves(self, product_id: int) -> list[tuple[str, str]]:
        return [(e.from_status, e.to_status) for e in self.events[product_id]]


def prp_reaches_only_its_donor_once_after_a_matching_scan_and_before_expiry(ledger: Ledger) -> None:
    assert len({a.product_id for a in ledger.applications}) == len(ledger.applications), "a product applied twice"
    applied = {pk for pk, p in ledger.products.items() if p.status == S.APPLIED}
    assert applied == {a.product_id for a in ledger.applications}
    for a in ledger.applications:
        product = ledger.products[a.product_id]
        assert a.patient_id == product.patient_id == ledger.visit_patients[a.visit_id], "PRP given to another patient"
        assert product.expires_at is not None and a.applied_at < product.expires_at, "PRP given after its expiry"
        scans = ledger.verifications[product.pk]
        match = next(v for v in scans if v.pk == a.verification_id)
        assert (match.result, match.patient_id) == (R.MATCH, product.patient_id)
        assert match.at <= a.applied_at
        # The match was the product's last match before it was applied; only refused re-checks
        # (which change nothing) may lie between them.
        assert not [v for v in scans if match.at < v.at < a.applied_at and v.result != R.REFUSED]
        assert ledger.moves(product.pk)[-2:] == [(S.PREPARED, S.VERIFIED), (S.VERIFIED, S.APPLIED)]


def every_status_move_is_logged_and_the_log_is_one_consistent_chain(ledger: Ledger) -> None:
    for product in ledger.products.values():
        log = ledger.moves(product.pk)
        assert log and log[0] == ("", S.DRAWN), log
        for (_, previous_to), (frm, _to) in itertools.pairwise(log):
            assert frm == previous_to, log
        assert all(move in MOVES for move in log), log
        assert log[-1][1] == product.status, (log, product.status)
        # A release returns to the state quarantine left (a verified product to prepared).
        for (left, went), (_, back) in itertools.pairwise(log):
            if went == S.QUARANTINED and back != S.DISCARDED:
                assert back == (S.PREPARED if left == S.VERIFIED else left), log
        expected_before = log[-1][0] if product.status == S.QUARANTINED else ""
        assert product.status_before_quarantine == expected_before, log


def every_scan_and_incident_agrees_with_the_product_and_its_log(ledger: Ledger) -> None:
    incidents_of: dict[int, list[Incident]] = defaultdict(list)
    for incident in ledger.incidents:
        incidents_of[incident.verification_id].append(incident)
    for product_id, scans in ledger.verifications.items():
        product = ledger.products[product_id]
        matches = [v for v in scans if v.result == R.MATCH]
        # Each match moved the product prepared -> verified, and only a match does.
        assert len(matches) == ledger.moves(product_id).count((S.PREPARED, S.VERIFIED))
        for v in matches:
            assert v.patient_id == product.patient_id
            assert product.expires_at is not None and v.at < product.expires_at, "an expired product verified"
        for v in scans:
            incidents = incidents_of[v.pk]
            if v.result == R.MISMATCH:
                assert v.patient_id != product.patient_id
                assert len(incidents) == 1, "a wrong-patient scan without its incident"
                incident = incidents[0]
                assert (incident.product_id, incident.donor_id) == (product_id, product.patient_id)
                assert incident.scanned_patient_id == v.patient_id
            else:
                assert incidents == []
    assert sum(len(i) for i in incidents_of.values()) == len(ledger.incidents)


def nothing_leaves_quarantine_while_its_incident_is_open(ledger: Ledger) -> None:
    for incident in ledger.incidents:
        if incident.status != IncidentStatus.OPEN:
            assert incident.resolved_at is not None and incident.resolved_by_id is not None
            continue
        product = ledger.products[incident.product_id]
        # A product already applied or discarded when the wrong patient was scanned stays as it
        # was; any other is quarantined and stays so until a physician releases or discards it.
        assert product.status in (S.QUARANTINED, S.APPLIED, S.DISCARDED)
        later = [e.to_status for e in ledger.events[product.pk] if e.at > incident.reported_at]
        assert set(later) <= {S.QUARANTINED}, later
        assert not [v for v in ledger.verifications[product.pk] if v.result == R.MATCH and v.at > incident.reported_at]


@pytest.mark.django_db
def test_no_sequence_of_actions_applies_prp_to_anyone_but_its_donor_or_after_expiry(
    personas: Personas, chain: Chain
) -> None:
    clinic = personas.clinic_a
    patients = (
        chain.patient,
        make_patient(clinic, given_name="Paul", family_name="Novak", mrn="A000101"),
        make_patient(clinic, given_name="Mira", family_name="Weber", mrn="A000102"),
    )
    visits = (
        chain.visit,
        *(
            Visit.objects.create(clinic=clinic, patient=p, treatment="prp_scalp", clinician=personas.physician)
            for p in patients[1:]
        ),
    )
    requests = {actor: clinic_request(getattr(personas, actor), clinic) for actor in ACTORS}

    class Machine(ChainOfCustody):
        world = World(requests, chain, patients, visits, dt.timedelta(minutes=clinic.prp_expiry_minutes))

    run_state_machine_as_test(
        Machine, settings=settings(max_examples=30, stateful_step_count=30, deadline=None, print_blob=True)
    )
