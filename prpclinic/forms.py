"""What every page form does with a service's refusal."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


def add_service_errors(form: Any, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """A service's messages next to the fields they name (``rename`` maps a service's argument to the
    form's field); messages for fields the form lacks, or for no field, on top of the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            name = (rename or {}).get(name, name)
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)
