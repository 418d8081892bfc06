"""Background tasks of the reminders app (run by `prpclinic db_worker`; at once in tests and DEBUG)."""

from __future__ import annotations

from django_tasks import task

from prpclinic.reminders import dispatch


@task()
def send_reminder(*, log_id: int) -> None:
    """Send one claimed reminder (``dispatch.deliver``); a second run for the same row does nothing."""
    dispatch.deliver(log_id=log_id)
