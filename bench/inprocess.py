"""CPU per request of search, chart and ``/healthz``, in-process, with the database's share.

    python -m bench.inprocess [--requests 200] [--rounds 3] [--profile chart|search]

``floor`` is a signed-in request for a page that does not exist: the session, the user with
their clinics and the middleware, then a small 404 page; what every signed-in page costs
before its view runs. Runs the requests through the whole middleware stack with Django's test client on the bench
database (production settings, as ``bench.run`` sets them) and reads two clocks: the CPU time
of this process (Django, psycopg) and of the PostgreSQL backend serving it (from ``/proc``,
both on this machine). Unlike requests per second under wrk, neither clock moves much when
other programs share the CPUs, so two versions of the code can be compared on a busy machine.
The benchmark database must exist (``python -m bench.generate`` or ``make bench``).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

from bench.env import database_url, django_env, read_meta

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one PostgreSQL backend process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("chart", "search"), help="print a cProfile of this request instead")
    args = parser.parse_args(argv)

    url = database_url()
    meta = read_meta(url)
    if not meta:
        sys.exit("No bench database: run python -m bench.generate first.")
    os.environ.update(django_env(url=url, secret_key=secrets.token_urlsafe(50), audit_key=meta["audit_key"]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils.crypto import get_random_string

    from bench.run import make_queries, make_sessions

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the floor's 404s are expected
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    clinic_id, first, last = (int(meta[k]) for k in ("main_clinic_id", "first_patient_id", "last_patient_id"))
    csrf = get_random_string(32)
    session = make_sessions(clinic_id)[0]
    queries = make_queries(clinic_id)
    rng = random.Random(7)
    client = Client(SERVER_NAME="127.0.0.1")
    client.cookies["sessionid"] = session
    client.cookies["csrftoken"] = csrf
    headers = {"HTTP_X_CSRFTOKEN": csrf, "HTTP_HX_REQUEST": "true"}

    def one(kind: str) -> None:
        if kind == "healthz":
            response = client.get("/healthz")
        elif kind == "floor":  # signed in, then nothing: session, user and clinic, a 404 page
            response = client.get("/no-such-page/")
            assert response.status_code == 404, response.status_code
            return
        elif kind == "search":
            response = client.post("/patients/search/", {"q": rng.choice(queries)}, **headers)
        else:
            response = client.get(f"/patients/{rng.randint(first, last)}/")
        assert response.status_code == 200, (kind, response.status_code)

    for kind in ("healthz", "floor", "search", "chart"):  # warm: first-request work is not measured
        for _ in range(20):
            one(kind)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            one(args.profile)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
            int(os.environ.get("TOP", "45"))
        )
        return 0

    figures: dict[str, list[tuple[float, float]]] = {"healthz": [], "floor": [], "search": [], "chart": []}
    for _ in range(args.rounds):
        for kind in figures:
            app0, db0 = time.process_time(), backend_cpu_s(backend)
            for _ in range(args.requests):
                one(kind)
            app, db = time.process_time() - app0, backend_cpu_s(backend) - db0
            figures[kind].append((app * 1000 / args.requests, db * 1000 / args.requests))
    print(f"CPU ms per request, median of {args.rounds} rounds of {args.requests} (app = Django, db = PostgreSQL)")
    print(f"{'request':<8} {'app':>7} {'db':>7} {'total':>7}   vs /healthz")
    base = statistics.median(a + d for a, d in figures["healthz"])
    for kind, rows in figures.items():
        app = statistics.median(a for a, _ in rows)
        db = statistics.median(d for _, d in rows)
        total = statistics.median(a + d for a, d in rows)
        print(f"{kind:<8} {app:7.2f} {db:7.2f} {total:7.2f}   {base / total:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
