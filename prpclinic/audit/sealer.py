"""Sealing the audit chain off the request path.

A request that writes an audit event only inserts it (and its pending marker); after its
transaction commits it asks this per-process sealer to seal that clinic's chain. A daemon
thread does the sealing in its own short transactions, so no request waits for the chain's
lock. After a wake-up it waits ``AUDIT_SEAL_DELAY_SECONDS`` first, so that the events of a
busy moment are sealed in one batch: the sealing statements are paid once per batch, not once
per chart opening. Events still pending when a process dies are sealed
by the next seal of their chain, or by ``prpclinic verify_audit``; nothing is lost, since
the event itself was committed with the clinical write.

With ``AUDIT_SEAL_INLINE`` (the test suite) sealing happens right after commit, in-thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


class Sealer:
    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def request(self, key: str) -> None:
        """Ask for ``key``'s chain to be sealed soon (after the caller's commit)."""
        if settings.AUDIT_SEAL_INLINE:
            from prpclinic.audit.services import audit_seal_chain

            audit_seal_chain(key=key)
            return
        with self._lock:
            self._keys.add(key)
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                # A forked worker inherits no running thread: start one per process.
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        from prpclinic.audit.services import audit_seal_chain

        while True:
            self._wake.wait()
            time.sleep(settings.AUDIT_SEAL_DELAY_SECONDS)  # let a burst gather into one batch
            self._wake.clear()
            with self._lock:
                keys, self._keys = self._keys, set()
            for key in sorted(keys):
                try:
                    audit_seal_chain(key=key)
                except Exception:  # the events stay pending; the next seal or verify_audit takes them
                    logger.exception("sealing the audit chain %s failed", key)
                    with self._lock:
                        self._keys.add(key)
            close_old_connections()
            if not settings.DATABASES["default"].get("CONN_MAX_AGE"):
                connection.close()


sealer = Sealer()
