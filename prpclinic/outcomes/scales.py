"""Outcome scales as data: each with its definition, levels, source and evidence tag.

Pure module (no Django import): the forms, the charts and the analytics read these records.
Tags as in PRP_REFERENCE.md: [V] read in the source, [S] secondary source only, [U] unverified,
[clinic] the clinic's own choice. No threshold here is a hard clinical rule; the numeric measures
carry no upper bound because the reference gives none (only a physical lower bound of zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

NUMERIC = "numeric"
ORDINAL = "ordinal"

CLINICIAN = "clinician"
PATIENT = "patient"
RATERS = {CLINICIAN: "Clinician", PATIENT: "Patient"}


@dataclass(frozen=True)
class Level:
    value: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Variant:
    code: str
    label: str
    levels: tuple[Level, ...]
    # For the charts: does a higher position on the scale mean a better result?
    higher_is_better: bool


@dataclass(frozen=True)
class Scale:
    code: str
    name: str
    kind: str  # NUMERIC or ORDINAL
    definition: str
    source: str
    tag: str
    unit: str = ""
    decimals: int = 0
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    needs_area: bool = False  # a count in a marked target area: the area (cm²) is stored with it
    raters: tuple[str, ...] = (CLINICIAN,)
    variants: tuple[Variant, ...] = field(default_factory=tuple)
    map: str = ""  # "scalp" or "face": where the measure is taken
    higher_is_better: bool | None = None
    # Rated after treatment only (GAIS rates the change itself; satisfaction has no before): the
    # analytics report the rating after N sessions, not a change from a baseline.
    rated_after: bool = False

    def variant(self, code: str = "") -> Variant | None:
        if not self.variants:
            return None
        for variant in self.variants:
            if variant.code == code:
                return variant
        return self.variants[0]

    def levels(self, variant: str = "") -> tuple[Level, ...]:
        chosen = self.variant(variant)
        return chosen.levels if chosen is not None else ()

    def level(self, value: str, variant: str = "") -> Level | None:
        return next((level for level in self.levels(variant) if level.value == value), None)

    def position(self, value: str, variant: str = "") -> int | None:
        """Where an ordinal level sits on its scale (0 = first listed), for charts and analytics."""
        for index, level in enumerate(self.levels(variant)):
            if level.value == value:
                return index
        return None

    def better_when_higher(self, variant: str = "") -> bool | None:
        chosen = self.variant(variant)
        return chosen.higher_is_better if chosen is not None else self.higher_is_better


class ScaleValueError(ValueError):
    """A value the scale does not allow; the message is for the clinician, next to the field."""


def _levels(*pairs: tuple[str, str, str]) -> tuple[Level, ...]:
    return tuple(Level(value, label, description) for value, label, description in pairs)


def _single(levels: tuple[Level, ...], higher_is_better: bool) -> tuple[Variant, ...]:
    return (Variant("", "", levels, higher_is_better),)


_GAIS_STANDARD = _levels(
    ("1", "1 Very much improved", "Optimal cosmetic result."),
    ("2", "2 Much improved", "Marked improvement, but not completely optimal."),
    ("3", "3 Improved", "Obvious improvement; a re-treatment may be indicated."),
    ("4", "4 No change", "The appearance is essentially the same as the original."),
    ("5", "5 Worse", "The appearance is worse than the original."),
)
# The reversed 0-4 numbering: our reading is that it runs the same five steps the other way
# (4 = very much improved, 0 = worse). The reference only says the variant exists [U].
_GAIS_REVERSED = _levels(
    ("0", "0 Worse", "The appearance is worse than the original."),
    ("1", "1 No change", "The appearance is essentially the same as the original."),
    ("2", "2 Improved", "Obvious improvement; a re-treatment may be indicated."),
    ("3", "3 Much improved", "Marked improvement, but not completely optimal."),
    ("4", "4 Very much improved", "Optimal cosmetic result."),
)

SCALES: dict[str, Scale] = {
    scale.code: scale
    for scale in (
        Scale(
            code="hair_density",
            name="Hair density",
            kind=NUMERIC,
            unit="hairs/cm²",
            decimals=1,
            minimum=Decimal(0),
            map="scalp",
            higher_is_better=True,
            definition=(
                "Hairs per square centimetre in the marked target area, by phototrichogram or TrichoScan. "
                "Use the same marked area (e.g. a tattoo dot) at every session."
            ),
            source="PRP_REFERENCE §6: Cervelli 2014 (BioMed Res Int 760709); Giordano 2018 (Int J Trichology 10:1)",
            tag="V",
        ),
        Scale(
            code="hair_count",
            name="Hair count in the target area",
            kind=NUMERIC,
            unit="hairs",
            decimals=0,
            minimum=Decimal(0),
            needs_area=True,
            map="scalp",
            higher_is_better=True,
            definition=(
                "Number of hairs counted in a marked target area; the size of that area (cm²) is stored with "
                "the count so that counts stay comparable."
            ),
            source="PRP_REFERENCE §6: Cervelli 2014 (BioMed Res Int 760709), hairs in the target area",
            tag="V",
        ),
        Scale(
            code="shaft_thickness",
            name="Hair shaft thickness",
            kind=NUMERIC,
            unit="µm",
            decimals=1,
            minimum=Decimal(0),
            map="scalp",
            higher_is_better=True,
            definition="Mean hair shaft diameter in micrometres, measured by trichoscopy in the target area.",
            source="PRP_REFERENCE §6: outcome measures (shaft diameter) of the trials cited",
            tag="V",
        ),
        Scale(
            code="norwood",
            name="Norwood-Hamilton",
            kind=ORDINAL,
            map="scalp",
            definition="Stage of male pattern hair loss, I (none) to VII (most extensive), with the vertex and "
            "anterior (A) variants.",
            source="PRP_REFERENCE §8: Norwood 1975",
            tag="U",
            variants=_single(
                _levels(
                    ("I", "I", "No or minimal recession of the frontotemporal hairline."),
                    ("II", "II", "Slight symmetrical recession at the temples."),
                    ("IIa", "IIa", "Anterior variant: the whole frontal hairline recedes, no vertex loss."),
                    ("III", "III", "Deep temporal recession; the first stage counted as baldness."),
                    ("IIIa", "IIIa", "Anterior variant: the hairline recedes to the mid-crown point."),
                    ("III-vertex", "III vertex", "Loss mainly at the vertex with temporal recession."),
                    ("IV", "IV", "Further frontal recession and vertex loss, separated by a band of hair."),
                    ("IVa", "IVa", "Anterior variant: recession beyond the mid-crown point."),
                    ("V", "V", "The band between front and vertex narrows and thins."),
                    ("Va", "Va", "Anterior variant: the most advanced of the A pattern."),
                    ("VI", "VI", "The band is gone: frontal and vertex areas join."),
                    ("VII", "VII", "Only a horseshoe of hair remains at the sides and back."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="ludwig",
            name="Ludwig",
            kind=ORDINAL,
            map="scalp",
            definition="Female pattern hair loss: crown thinning with the frontal hairline preserved, I to III.",
            source="PRP_REFERENCE §8: Ludwig 1977",
            tag="S",
            variants=_single(
                _levels(
                    ("I", "I", "Perceptible thinning of the crown."),
                    ("II", "II", "Pronounced rarefaction of the crown."),
                    ("III", "III", "Full baldness of the crown area."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="sinclair",
            name="Sinclair",
            kind=ORDINAL,
            map="scalp",
            definition="Female pattern hair loss by the width of the central part, 1 (normal) to 5.",
            source="PRP_REFERENCE §8: Sinclair scale",
            tag="S",
            variants=_single(
                _levels(
                    ("1", "1", "Normal."),
                    ("2", "2", "Widening of the central part."),
                    ("3", "3", "Widening of the part and thinning beside it."),
                    ("4", "4", "A diffuse thinning area at the top of the scalp."),
                    ("5", "5", "Advanced hair loss."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="fitzpatrick_wrinkle",
            name="Fitzpatrick wrinkle and elastosis",
            kind=ORDINAL,
            map="face",
            definition="Score 1–9 in three classes: I (1–3) fine wrinkles, mild elastosis; II (4–6) fine to "
            "moderate wrinkles, distinct papular elastosis; III (7–9) fine to deep wrinkles, numerous lines, "
            "confluent elastosis.",
            source="PRP_REFERENCE §8: Fitzpatrick 1996 (Arch Dermatol 132:395); classes [S], detail [U]",
            tag="U",
            variants=_single(
                tuple(
                    Level(
                        str(score),
                        f"{score} (class {cls})",
                        {
                            "I": "Fine wrinkles; mild elastosis.",
                            "II": "Fine to moderate wrinkles, moderate number of lines; distinct papular elastosis.",
                            "III": "Fine to deep wrinkles, numerous lines, with or without redundant folds; "
                            "confluent elastosis.",
                        }[cls],
                    )
                    for score, cls in ((s, "I" if s <= 3 else "II" if s <= 6 else "III") for s in range(1, 10))
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="glogau",
            name="Glogau photoaging",
            kind=ORDINAL,
            map="face",
            definition="Photoaging type I–IV by wrinkles in motion and at rest.",
            source="PRP_REFERENCE §8: Glogau classification",
            tag="S",
            variants=_single(
                _levels(
                    ("I", "I", "No wrinkles (typically 20s–30s)."),
                    ("II", "II", "Wrinkles in motion (typically late 30s–40s)."),
                    ("III", "III", "Wrinkles at rest (typically 50s and older)."),
                    ("IV", "IV", "Only wrinkles (typically 60s–70s)."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="lemperle",
            name="Lemperle wrinkle assessment",
            kind=ORDINAL,
            map="face",
            definition="Photo-referenced wrinkle depth 0–5 for one named wrinkle (note the site).",
            source="PRP_REFERENCE §8: Lemperle 2001 (Plast Reconstr Surg 108:1735) [V]; grade wording [U]",
            tag="V",
            variants=_single(
                _levels(
                    ("0", "0", "No wrinkle."),
                    ("1", "1", "Just perceptible wrinkle."),
                    ("2", "2", "Shallow wrinkle."),
                    ("3", "3", "Moderately deep wrinkle."),
                    ("4", "4", "Deep wrinkle, well-defined edges."),
                    ("5", "5", "Very deep wrinkle, redundant fold."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="goodman_baron",
            name="Goodman & Baron acne scar (qualitative)",
            kind=ORDINAL,
            map="face",
            definition="Qualitative acne scar grade 1–4. (A separate quantitative version exists.)",
            source="PRP_REFERENCE §8: Goodman & Baron 2006 (Dermatol Surg 32:1458)",
            tag="S",
            variants=_single(
                _levels(
                    ("1", "1 Macular", "Flat red, white or brown marks."),
                    ("2", "2 Mild", "Not obvious at 50 cm or more; covered by makeup or beard shadow."),
                    ("3", "3 Moderate", "Obvious at 50 cm or more, not easily covered; flattens when stretched."),
                    ("4", "4 Severe", "As 3, but does not flatten when the skin is stretched."),
                ),
                higher_is_better=False,
            ),
        ),
        Scale(
            code="gais",
            name="Global Aesthetic Improvement Scale (GAIS)",
            kind=ORDINAL,
            definition="Improvement against the pre-treatment state, rated by the clinician or by the patient. "
            "Standard 1–5 (1 = very much improved); a 0–4 reversed variant exists: the variant is stored.",
            source="PRP_REFERENCE §8: GAIS (DocCheck) [V]; the reversed variant's wording is our reading [U]",
            tag="V",
            raters=(CLINICIAN, PATIENT),
            rated_after=True,
            variants=(
                Variant("standard", "Standard 1–5", _GAIS_STANDARD, higher_is_better=False),
                Variant("reversed", "Reversed 0–4", _GAIS_REVERSED, higher_is_better=True),
            ),
        ),
        Scale(
            code="satisfaction",
            name="Patient satisfaction",
            kind=ORDINAL,
            definition="The patient's satisfaction with the result on a 5-point Likert scale. The clinic's choice "
            "of scale, not a validated instrument.",
            source="Clinic's choice (5-point Likert); PRP_REFERENCE §6 lists patient satisfaction as an outcome",
            tag="clinic",
            raters=(PATIENT,),
            rated_after=True,
            variants=_single(
                _levels(
                    ("1", "1 Very dissatisfied", ""),
                    ("2", "2 Dissatisfied", ""),
                    ("3", "3 Neither satisfied nor dissatisfied", ""),
                    ("4", "4 Satisfied", ""),
                    ("5", "5 Very satisfied", ""),
                ),
                higher_is_better=True,
            ),
        ),
    )
}


def scale_get(code: str) -> Scale:
    try:
        return SCALES[code]
    except KeyError:
        raise ScaleValueError("Choose a scale.") from None


def parse_value(scale: Scale, raw: str, *, variant: str = "") -> tuple[Decimal | None, str]:
    """(numeric value, level) for a typed or chosen value; ScaleValueError when the scale refuses it."""
    text = (raw or "").strip()
    if not text:
        raise ScaleValueError("Enter a value.")
    if scale.kind == ORDINAL:
        if scale.level(text, variant) is None:
            allowed = ", ".join(level.value for level in scale.levels(variant))
            raise ScaleValueError(f"{text[:20]} is not on the {scale.name} scale ({allowed}).")
        return None, text
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ScaleValueError("Enter a number.") from None
    if not value.is_finite():
        raise ScaleValueError("Enter a number.")
    if scale.minimum is not None and value < scale.minimum:
        raise ScaleValueError(f"{scale.name} cannot be below {scale.minimum} {scale.unit}.")
    if scale.maximum is not None and value > scale.maximum:
        raise ScaleValueError(f"{scale.name} cannot be above {scale.maximum} {scale.unit}.")
    if -value.normalize().as_tuple().exponent > scale.decimals:  # type: ignore[operator]
        raise ScaleValueError(f"Enter at most {scale.decimals} decimal places.")
    if value.adjusted() >= 6:
        raise ScaleValueError(f"{value} {scale.unit} is not a plausible value.")
    return value, ""
