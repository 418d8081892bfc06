"""The words of each message, built from plain values: no database, no sending.

What a reminder says is deliberately thin. An e-mail or SMS is read on lock screens and shared
devices, so appointment messages name the clinic and the time only, never the treatment; the
calendar attachment's SUMMARY is "Appointment at <clinic>". Aftercare messages carry the
clinic's own aftercare text (that is their purpose) and go by e-mail; their SMS only says whom
to call. Times are shown in the clinic's zone, with the zone's name.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from prpclinic.scheduling import ics


@dataclass(frozen=True)
class Email:
    subject: str
    body: str
    ics: str = ""  # an iCalendar attachment when not empty


def local_text(moment: dt.datetime, zone_name: str) -> str:
    """``Sunday 29 March 2026 at 10:00 (Europe/Vienna)``: the clinic's clock time, zone named."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone_name))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({zone_name})"


def short_local_text(moment: dt.datetime, zone_name: str) -> str:
    """``Sun 29 Mar 2026 10:00``: for an SMS."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone_name))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"


def day_text(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def mask_email(address: str) -> str:
    """``a•••@example.org``: enough for staff to recognise, not enough to copy."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"[:80]


def mask_phone(number: str) -> str:
    """``•••567``: the last three digits only."""
    digits = [ch for ch in number if ch.isdigit()]
    return "•••" + "".join(digits[-3:])


def appointment_email(
    *, clinic_name: str, zone_name: str, starts_at: dt.datetime, ends_at: dt.datetime, link: str,
    link_expires_at: dt.datetime, uid: str, now: dt.datetime, sequence: int = 0, moved: bool = False,
) -> Email:  # fmt: skip
    """The reminder e-mail; ``moved`` when the patient was already told another time for this appointment."""
    when = local_text(starts_at, zone_name)
    opening = (
        f"your appointment at {clinic_name} has moved. The new time is {when}; the earlier time no longer holds."
        if moved
        else f"this is a reminder of your appointment at {clinic_name} on {when}."
    )
    body = "\n".join(
        [
            "Hello,",
            "",
            opening,
            "",
            "Please let us know whether you will come:",
            link,
            "",
            f"The link works once, until {local_text(link_expires_at, zone_name)}. "
            "If it no longer works, please call us.",
            "",
            "The attached calendar file adds the appointment to your calendar.",
            "",
            clinic_name,
        ]
    )
    event = ics.Event(
        uid=uid,
        starts_at=starts_at,
        ends_at=ends_at,
        summary=f"Appointment at {clinic_name}",
        location=clinic_name,
        sequence=sequence,
    )
    short = short_local_text(starts_at, zone_name)
    return Email(
        subject=(
            f"Your appointment at {clinic_name} has moved to {short}"
            if moved
            else f"Your appointment at {clinic_name} on {short}"
        ),
        body=body + "\n",
        ics=ics.calendar([event], now=now),
    )


def appointment_sms(*, clinic_name: str, zone_name: str, starts_at: dt.datetime, link: str, moved: bool = False) -> str:
    when = short_local_text(starts_at, zone_name)
    if moved:
        return f"{clinic_name}: your appointment has moved to {when}. Confirm or cancel: {link}"
    return f"{clinic_name}: reminder of your appointment on {when}. Confirm or cancel: {link}"


def next_session_email(*, clinic_name: str, due: dt.date, phone: str) -> Email:
    contact = f"call us on {phone}" if phone else "contact us"
    body = "\n".join(
        [
            "Hello,",
            "",
            f"your next session at {clinic_name} is due around {day_text(due)}, and no appointment is booked yet.",
            f"To book it, please {contact}.",
            "",
            clinic_name,
        ]
    )
    return Email(subject=f"Time to book your next session at {clinic_name}", body=body + "\n")


def next_session_sms(*, clinic_name: str, due: dt.date, phone: str) -> str:
    contact = f" Call {phone} to book." if phone else " Please contact us to book."
    return f"{clinic_name}: your next session is due around {due.day} {due:%b %Y}.{contact}"


def aftercare_email(*, clinic_name: str, handout_text: str) -> Email:
    return Email(subject=f"Aftercare after your visit to {clinic_name}", body=handout_text)


def aftercare_sms(*, clinic_name: str, phone: str) -> str:
    contact = f"call {phone}" if phone else "call us"
    return f"{clinic_name}: if you have questions or concerns after your visit, {contact}."
