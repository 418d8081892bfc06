"""Crash safety: SIGKILL the app server at random moments during a stream of writes.

gunicorn (production settings, 2 sync workers, the audit sealer in its background thread)
serves a scratch database: PostgreSQL when the suite runs on it, else a SQLite file. Four
client threads, signed in as a nurse, stream writes through the real interfaces: register a
patient (page), screen them (the screening form), take their consent on the tablet (the
signing form with a drawn PNG signature: the server renders and stores the PDF), start a visit
(page), then through the JSON API draw blood, two spins, prepare, verify at the bedside (now
and then the wrong patient's wristband) and apply. A write counts as acknowledged when its
whole answer arrived with the expected status (and, for page POSTs, the expected redirect).

Meanwhile the test kills the master and every worker at once (SIGKILL to the process group:
no clean-up runs) several times at random moments, restarting the server each time, and
ends with a last kill. Then, on the database as the crashes left it:

- every acknowledged write is there (patients by record number, screenings, signed consents,
  visits, products by code, spins, verifications, applications), in the state acknowledged or
  at most one step on (a write can commit and die before its answer leaves);
- nothing is half-written, acknowledged or not: each product's event chain runs from
  ``drawn`` to its status without a gap; spins, preparation, verification, incident and
  application match the status; every write has exactly its audit events; every signed
  consent's PDF is stored and matches its SHA-256; every visit started after an eligible
  screening and a signed consent of its patient (the gate held through the crashes);
- ``prpclinic verify_audit`` (which first seals what the kills left pending) exits 0, and
  afterwards no event is pending or unsealed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.test_logs import (
    PASSWORD,
    PRP_DEVICE_AND_LOTS,
    Browser,
    Reply,
    Server,
    last_id,
    make_app,
    scratch_database,
    screening_form,
    signature,
)

KILLS = 5
CLIENTS = 4
SETUP = (
    """
import json
from decimal import Decimal
import datetime as dt
from django.utils import timezone
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.consents.selectors import current_template
from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram

clinic = Clinic.objects.create(name="Crash Test Clinic", slug="crash-test", timezone="UTC", mrn_prefix="C")
# The clinic's consent forms, written as on its first use of consents (not one of the writes under test).
template = current_template(clinic_id=clinic.pk, kind="prp_scalp")
nurse = User.objects.create_user("nurse@crash.example", %(password)r, full_name="Nora Crash")
Membership.objects.create(clinic=clinic, user=nurse, role="nurse")
"""
    + PRP_DEVICE_AND_LOTS
    + """print(json.dumps({
    "clinic": clinic.pk, "centrifuge": centrifuge.pk, "program": program.pk, "tube": tube.pk, "kit": kit.pk,
    "template": template.pk,
}))
"""
)

# Reads the acknowledged writes from a JSON file and reports every problem found in the database.
CHECK = """
import hashlib
import json
from collections import Counter
from django.core.files.storage import default_storage
from prpclinic.audit.models import AuditEvent, AuditPending
from prpclinic.consents.models import SignedConsent
from prpclinic.intake.models import Screening
from prpclinic.patients.models import Patient
from prpclinic.prp.models import Application, Incident, Product, ProductEvent, Spin, Verification
from prpclinic.visits.models import Visit

acked = json.loads(open(%(path)r).read())
problems = []
NEXT = {
    "drawn": {"drawn", "spun"}, "spun": {"spun", "prepared"}, "prepared": {"prepared", "verified", "quarantined"},
    "verified": {"verified", "applied"}, "applied": {"applied"}, "quarantined": {"quarantined"},
}

# 1. Every acknowledged write exists.
for p in acked["patients"]:
    row = Patient.objects.filter(pk=p["id"]).values("mrn", "given_name").first()
    if row != {"mrn": p["mrn"], "given_name": p["given_name"]}:
        problems.append(f"acknowledged patient {p} is {row}")
for s in acked["screenings"]:
    if not Screening.objects.filter(pk=s["id"], patient_id=s["patient_id"], result="eligible").exists():
        problems.append(f"acknowledged screening {s} is missing")
for c in acked["consents"]:
    if not SignedConsent.objects.filter(pk=c["id"], patient_id=c["patient_id"], kind="prp_scalp").exists():
        problems.append(f"acknowledged consent {c} is missing")
for v in acked["visits"]:
    if not Visit.objects.filter(pk=v["id"], patient_id=v["patient_id"]).exists():
        problems.append(f"acknowledged visit {v} is missing")
for pr in acked["products"]:
    product = Product.objects.filter(pk=pr["id"]).values("code", "status", "draw__visit_id").first()
    if product is None or product["code"] != pr["code"] or product["draw__visit_id"] != pr["visit_id"]:
        problems.append(f"acknowledged product {pr} is {product}")
        continue
    if product["status"] not in NEXT[pr["status"]]:
        problems.append(f"product {pr['code']} acknowledged {pr['status']} but is {product['status']}")
    numbers = set(Spin.objects.filter(product_id=pr["id"]).values_list("number", flat=True))
    if not set(pr["spins"]) <= numbers:
        problems.append(f"product {pr['code']}: acknowledged spins {pr['spins']}, stored {sorted(numbers)}")
for ver in acked["verifications"]:
    if not Verification.objects.filter(pk=ver["id"], product_id=ver["product_id"], result=ver["result"]).exists():
        problems.append(f"acknowledged verification {ver} is missing")
for app in acked["applications"]:
    if not Application.objects.filter(pk=app["id"], product_id=app["product_id"]).exists():
        problems.append(f"acknowledged application {app} is missing")

# 2. Nothing half-written, acknowledged or not.
def audit_counts(object_type, object_id):
    return Counter(
        AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id)).values_list("action", flat=True)
    )

for product in Product.objects.select_related("draw").order_by("pk"):
    label = f"product {product.code} ({product.status})"
    events = list(ProductEvent.objects.filter(product=product).order_by("id"))
    chain = [(e.from_status, e.to_status) for e in events]
    if not chain or chain[0] != ("", "drawn"):
        problems.append(f"{label}: events start {chain[:1]}")
    for (_, to), (frm, _) in zip(chain, chain[1:]):
        if frm != to:
            problems.append(f"{label}: event chain broken: {chain}")
    if chain and chain[-1][1] != product.status:
        problems.append(f"{label}: last event says {chain[-1][1]}")
    if product.draw.patient_id != product.patient_id:
        problems.append(f"{label}: draw of another patient")
    spins = sorted(Spin.objects.filter(product=product).values_list("number", flat=True))
    if spins != list(range(1, len(spins) + 1)) or (product.status == "drawn") != (not spins):
        problems.append(f"{label}: spins {spins}")
    prepared = "prepared" in {to for _, to in chain}
    fields = [product.prepared_at, product.expires_at, product.volume_ml, product.prepared_by_id]
    if prepared != all(f is not None for f in fields) or (not prepared and any(f is not None for f in fields)):
        problems.append(f"{label}: preparation fields {fields} with events {chain}")
    verifications = list(Verification.objects.filter(product=product).order_by("id"))
    matches = [v for v in verifications if v.result == "match"]
    mismatches = [v for v in verifications if v.result == "mismatch"]
    if product.status in ("verified", "applied") and not matches:
        problems.append(f"{label}: no matching verification")
    if Incident.objects.filter(product=product).count() != len(mismatches):
        problems.append(f"{label}: {len(mismatches)} mismatches but another number of incidents")
    application = Application.objects.filter(product=product).first()
    if (application is not None) != (product.status == "applied"):
        problems.append(f"{label}: application {application}")
    if application is not None and (
        application.verification.result != "match" or application.patient_id != product.patient_id
    ):
        problems.append(f"{label}: application without its matching verification")
    audits = audit_counts("prp.product", product.pk)
    moves = Counter(f"product.{to}" for frm, to in chain if frm)
    expected = moves + Counter({"prp.draw": 1, "prp.spin": len(spins), "prp.prepare": int(prepared)})
    expected += Counter({"prp.apply": int(application is not None), "prp.incident": len(mismatches)})
    expected = +expected
    if audits != expected:
        problems.append(f"{label}: audit events {dict(audits)}, expected {dict(expected)}")
for patient_id in Patient.objects.values_list("pk", flat=True):
    if audit_counts("patients.patient", patient_id) != Counter({"patient.create": 1}):
        problems.append(f"patient {patient_id}: audit {dict(audit_counts('patients.patient', patient_id))}")
for visit_id in Visit.objects.values_list("pk", flat=True):
    if audit_counts("visits.visit", visit_id) != Counter({"visit.start": 1}):
        problems.append(f"visit {visit_id}: audit {dict(audit_counts('visits.visit', visit_id))}")
for screening_id in Screening.objects.values_list("pk", flat=True):
    counts = audit_counts(Screening._meta.label_lower, screening_id)
    if counts != Counter({"screening.record": 1}):
        problems.append(f"screening {screening_id}: audit {dict(counts)}")
# A signed consent is its row, its audit event and its stored PDF, whose fingerprint matches.
recorded_pdfs = set()
for consent in SignedConsent.objects.order_by("pk"):
    recorded_pdfs.add(consent.pdf_name)
    counts = audit_counts(SignedConsent._meta.label_lower, consent.pk)
    if counts != Counter({"consent.sign": 1}):
        problems.append(f"consent {consent.pk}: audit {dict(counts)}")
    if not default_storage.exists(consent.pdf_name):
        problems.append(f"consent {consent.pk}: its PDF {consent.pdf_name} is missing")
        continue
    with default_storage.open(consent.pdf_name) as f:
        pdf = f.read()
    if hashlib.sha256(pdf).hexdigest() != consent.pdf_sha256 or len(pdf) != consent.pdf_size:
        problems.append(f"consent {consent.pk}: its PDF does not match its SHA-256 ({len(pdf)} bytes)")
# The gate held through the crashes: no visit without an eligible screening and a consent before it.
for visit in Visit.objects.order_by("pk"):
    mine = {"clinic_id": visit.clinic_id, "patient_id": visit.patient_id}
    if not Screening.objects.filter(
        **mine, treatment=visit.treatment, result="eligible", recorded_at__lte=visit.started_at
    ).exists():
        problems.append(f"visit {visit.pk} started without an eligible screening before it")
    if not SignedConsent.objects.filter(**mine, kind=visit.treatment, signed_at__lte=visit.started_at).exists():
        problems.append(f"visit {visit.pk} started without a signed consent before it")
# PDFs stored whose transaction died with the server: no record points at them (counted, reported).
folders = {name.rsplit("/", 1)[0] for name in recorded_pdfs} | {"consents/%(clinic)s"}
stored_pdfs = set()
for folder in folders:
    if default_storage.exists(folder):
        stored_pdfs |= {f"{folder}/{name}" for name in default_storage.listdir(folder)[1]}
orphan_pdfs = sorted(stored_pdfs - recorded_pdfs)
models = (
    ("patients.patient", Patient), ("visits.visit", Visit), ("prp.product", Product),
    (Screening._meta.label_lower, Screening), (SignedConsent._meta.label_lower, SignedConsent),
)
for object_type, model in models:
    ids = set(AuditEvent.objects.filter(object_type=object_type).values_list("object_id", flat=True))
    missing = ids - {str(pk) for pk in model.objects.values_list("pk", flat=True)}
    if missing:
        problems.append(f"audit events about {object_type} that does not exist: {sorted(missing)[:5]}")

print(json.dumps({
    "problems": problems,
    "pending": AuditPending.objects.count(),
    "unsealed": AuditEvent.objects.filter(seal__isnull=True).count(),
    "events": AuditEvent.objects.count(),
    "products": Product.objects.count(),
    "patients": Patient.objects.count(),
    "screenings": Screening.objects.count(),
    "consents": SignedConsent.objects.count(),
    "orphan_pdfs": len(orphan_pdfs),
}))
"""


def letters(number: int) -> str:
    text = ""
    while number:
        number, digit = divmod(number, 26)
        text += "abcdefghijklmnopqrstuvwxyz"[digit]
    return text


def iso_minutes_ago(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat()


@dataclass
class Acked:
    """Writes whose whole answer reached a client, with what the answer said."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    screenings: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    verifications: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0  # requests sent while the server was down
    interrupted: int = 0  # requests in flight when the server died: no complete answer
    unexpected: list[str] = field(default_factory=list)  # answers no write should give
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            kinds = (self.patients, self.screenings, self.consents, self.visits, self.products, self.verifications)
            return sum(len(x) for x in kinds)

    def mismatches(self) -> int:
        with self.lock:
            return sum(v["result"] == "mismatch" for v in self.verifications)


class Interrupted(Exception):
    pass


class Writer(threading.Thread):
    """Streams PRP chains; gives up on a chain at its first unanswered write and starts a new one."""

    def __init__(self, number: int, port: int, cookies: dict[str, str], ids: dict[str, int], acked: Acked) -> None:
        super().__init__(name=f"writer-{number}", daemon=True)
        self.number, self.acked, self.ids = number, acked, ids
        self.browser = Browser(port)
        self.browser.cookies = dict(cookies)
        self.stop = threading.Event()
        self.serial = 0
        # What the nurse posts before each visit: harmless answers, and a consent signed by the patient.
        self.screening = screening_form("prp_scalp")
        self.consent = {"template_id": ids["template"], "signer_relationship": "patient", "signature": signature()}

    def call(self, method: str, path: str, expect: int, *, redirect_to: str = "", **kwargs: Any) -> Reply:
        """The reply; Interrupted unless all of it came, with ``expect`` (and a redirect into ``redirect_to``)."""
        try:
            reply = self.browser.request(method, path, timeout=15, **kwargs)
        except ConnectionRefusedError as exc:
            with self.acked.lock:
                self.acked.refused += 1
            raise Interrupted from exc
        except (OSError, http.client.HTTPException) as exc:  # reset, timed out, incomplete answer
            with self.acked.lock:
                self.acked.interrupted += 1
            raise Interrupted from exc
        self.browser.replies.clear()
        if reply.status != expect or not reply.location.startswith(redirect_to):
            if reply.status in (502, 503, 504):
                raise Interrupted
            with self.acked.lock:
                self.acked.unexpected.append(f"{method} {path}: {reply.status} {reply.text[:300]}")
            raise Interrupted
        return reply

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.chain()
            except Interrupted:
                time.sleep(0.05)

    def chain(self) -> None:
        self.serial += 1
        mrn = f"C{self.number}{self.serial:05d}"
        given = "Crash" + letters(self.number * 100_000 + self.serial)  # names hold letters only
        reply = self.call(
            "POST",
            "/patients/new/",
            302,
            form={
                "mrn": mrn,
                "given_name": given,
                "family_name": "Test",
                "date_of_birth": "1980-01-01",
                "sex": "female",
            },
        )
        patient_id = last_id(reply.location)
        with self.acked.lock:
            self.acked.patients.append({"id": patient_id, "mrn": mrn, "given_name": given})
        # Before the visit (issue #4): the screening and the consent, through their forms.
        reply = self.call(
            "POST",
            f"/screening/patient/{patient_id}/new/prp_scalp/",
            302,
            redirect_to="/screening/",
            form=self.screening,
        )
        with self.acked.lock:
            self.acked.screenings.append({"id": last_id(reply.location), "patient_id": patient_id})
        consent = self.consent | {"signer_name": f"{given} Test"}
        reply = self.call(
            "POST", f"/consents/patients/{patient_id}/sign/prp_scalp/", 302, redirect_to="/consents/", form=consent
        )
        with self.acked.lock:
            self.acked.consents.append({"id": last_id(reply.location), "patient_id": patient_id})
        # A refused start redirects to the chart: only a redirect to the visit counts.
        reply = self.call(
            "POST", f"/visits/start/{patient_id}/", 302, redirect_to="/visits/", form={"treatment": "prp_scalp"}
        )
        visit_id = last_id(reply.location)
        with self.acked.lock:
            self.acked.visits.append({"id": visit_id, "patient_id": patient_id})
        draw = {
            "visit_id": visit_id, "drawn_at": iso_minutes_ago(60), "site": "antecubital_left", "volume_ml": "18",
            "tube_count": 2, "tube_lot_id": self.ids["tube"], "kit_lot_id": self.ids["kit"],
            "anticoagulant": "sodium_citrate_3_2", "identity_check": "scan", "scanned_code": f"PT-{mrn}",
        }  # fmt: skip
        product = self.call("POST", "/api/prp/draws", 201, json_body=draw).json()
        record = {"id": product["id"], "code": product["barcode"].removeprefix("PRP-"), "visit_id": visit_id}
        record |= {"status": "drawn", "spins": []}
        with self.acked.lock:
            self.acked.products.append(record)
        for number, minutes in ((1, 55), (2, 44)):
            spin = {"centrifuge_id": self.ids["centrifuge"], "program_id": self.ids["program"]}
            self.call(
                "POST",
                f"/api/prp/products/{record['id']}/spins",
                201,
                json_body=spin | {"started_at": iso_minutes_ago(minutes)},
            )
            with self.acked.lock:
                record["status"] = "spun"
                record["spins"].append(number)
        prepare = {"prepared_at": iso_minutes_ago(30), "volume_ml": "3.0"}
        self.call("POST", f"/api/prp/products/{record['id']}/prepare", 200, json_body=prepare)
        with self.acked.lock:
            record["status"] = "prepared"
        # Every fourth chain: the wristband of another patient (the first one registered).
        first = self.acked.patients[0]["mrn"]
        scanned = first if self.serial % 4 == 0 and first != mrn else mrn
        codes = {"patient_code": f"PT-{scanned}", "product_code": product["barcode"]}
        verification = self.call(
            "POST", "/api/prp/verifications", 409 if scanned != mrn else 200, json_body=codes
        ).json()
        with self.acked.lock:
            record["status"] = "verified" if scanned == mrn else "quarantined"
            self.acked.verifications.append(
                {"id": verification["id"], "product_id": record["id"], "result": verification["result"]}
            )
        if scanned != mrn:
            return
        apply = {"patient_id": patient_id, "visit_id": visit_id, "zones": [{"zone": "vertex", "volume_ml": "2.5"}]}
        application = self.call("POST", f"/api/prp/products/{record['id']}/apply", 201, json_body=apply).json()
        with self.acked.lock:
            record["status"] = "applied"
            self.acked.applications.append({"id": application["id"], "product_id": record["id"]})


def wait_until(acked: Acked, condition: Callable[[], bool], *, writes: int, timeout: float = 60) -> None:
    """Until ``writes`` more writes are acknowledged and ``condition()`` holds."""
    target = acked.count() + writes
    deadline = time.monotonic() + timeout
    while acked.count() < target or not condition():
        assert not acked.unexpected, acked.unexpected[:3]
        assert time.monotonic() < deadline, f"no progress in {timeout} s"
        time.sleep(0.01)


def test_acknowledged_writes_survive_sigkill_and_nothing_is_half_written(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with scratch_database(tmp_path, "crash") as database_url:
        app = make_app(tmp_path, database_url)
        ids = app.python(SETUP % {"password": PASSWORD})
        server = Server(app, tmp_path / "server.log", workers=2)
        server.start()
        writers: list[Writer] = []
        try:
            nurse = Browser(server.port)
            assert nurse.request("GET", "/account/login/").status == 200
            signed = nurse.request(
                "POST", "/account/login/", form={"username": "nurse@crash.example", "password": PASSWORD}
            )
            assert signed.status == 302, signed.text[:2000]
            acked = Acked()
            writers = [Writer(n, server.port, nurse.cookies, ids, acked) for n in range(1, CLIENTS + 1)]
            for writer in writers:
                writer.start()
            for _ in range(KILLS):
                # At a random point of the stream: a few writes, or a few chains, after the restart.
                wait_until(acked, lambda: True, writes=rng.randint(2, 24))
                time.sleep(rng.uniform(0.0, 0.2))
                server.kill()
                server.start()
            # Run on until every kind of write has been acknowledged, then the last crash.
            wait_until(acked, lambda: len(acked.applications) >= 2 and acked.mismatches() >= 1, writes=4)
            time.sleep(rng.uniform(0.0, 0.3))
            server.kill()  # the database stays as this crash left it
        finally:
            for writer in writers:
                writer.stop.set()
            if server.process is not None and server.process.poll() is None:
                server.kill()
            for writer in writers:
                writer.join(timeout=20)
        context = f"seed {seed}; server log {tmp_path / 'server.log'}"
        assert acked.unexpected == [], f"{acked.unexpected[:5]} ({context})"
        assert acked.interrupted >= KILLS, f"only {acked.interrupted} requests in flight were killed ({context})"
        path = tmp_path / "acked.json"
        kinds = ("patients", "screenings", "consents", "visits", "products", "verifications", "applications")
        path.write_text(json.dumps({k: getattr(acked, k) for k in kinds}))
        check = CHECK % {"path": str(path), "clinic": ids["clinic"]}

        before = app.python(check)
        assert before["problems"] == [], f"{before['problems'][:10]} ({context})"
        verified = app.command("verify_audit")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "OK:" in verified.stdout
        print(
            f"crash test ({context}): {KILLS + 1} kills, {acked.interrupted} requests killed in flight, "
            f"{acked.refused} refused while down; acknowledged: {len(acked.patients)} patients, "
            f"{len(acked.screenings)} screenings, {len(acked.consents)} consents, "
            f"{len(acked.products)} products, {len(acked.verifications)} verifications, "
            f"{len(acked.applications)} applications; in the database: {before['patients']} patients, "
            f"{before['screenings']} screenings, {before['consents']} consents, "
            f"{before['products']} products, {before['events']} audit events, {before['pending']} left pending; "
            f"{before['orphan_pdfs']} consent PDF(s) stored by a signing the kill cut short (no record)"
        )
        after = app.python(check)
        assert after["problems"] == [] and after["pending"] == 0 and after["unsealed"] == 0, (after, context)
        assert after["events"] == before["events"]
