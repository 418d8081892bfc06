"""Django's database sessions, with the read every signed-in request makes compiled once.

The session is read on every request of a signed-in user; Django's ``SessionStore`` builds
that query anew each time. Here it is a compiled read (``prpclinic.db.compiled_read``) by
key, and the expiry is checked on the row: the same answer as Django's
``expire_date > now()`` filter, without a date parameter in the SQL.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from prpclinic.db import compiled_read


@compiled_read()
def _session(session_key: str) -> QuerySet[Session]:
    return Session.objects.filter(session_key=session_key)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        key = self.session_key
        found = _session(session_key=key) if key else []
        if found and found[0].expire_date > timezone.now():
            return found[0]
        self._session_key = None
        return None
