"""Fitzpatrick skin phototypes, as data with their source.

Source: Fitzpatrick TB. The validity and practicality of sun-reactive skin types I through VI.
Arch Dermatol. 1988;124(6):869-871. doi:10.1001/archderm.1988.01670060015008.
The descriptions are the usual sun-reaction wording of that classification.
"""

from __future__ import annotations

SOURCE = "Fitzpatrick TB. Arch Dermatol 1988;124(6):869-871"

# code -> (label, sun reaction)
FITZPATRICK_SKIN_TYPES: dict[str, tuple[str, str]] = {
    "I": ("Type I", "always burns, never tans"),
    "II": ("Type II", "usually burns, tans minimally"),
    "III": ("Type III", "sometimes burns mildly, tans gradually"),
    "IV": ("Type IV", "burns minimally, always tans well"),
    "V": ("Type V", "very rarely burns, tans very easily"),
    "VI": ("Type VI", "never burns"),
}

CHOICES: list[tuple[str, str]] = [
    (code, f"{label} – {reaction}") for code, (label, reaction) in FITZPATRICK_SKIN_TYPES.items()
]
