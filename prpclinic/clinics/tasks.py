"""Background tasks of the clinics app (run by `prpclinic db_worker` in production)."""

from __future__ import annotations

from django.core.mail import send_mail
from django_tasks import task


@task()
def send_email(*, subject: str, body: str, to: list[str]) -> None:
    """Send one e-mail; retried by running the worker again if the mail server was down."""
    send_mail(subject, body, None, to)
