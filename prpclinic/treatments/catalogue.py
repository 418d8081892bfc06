"""The catalogue every clinic starts with: treatments, protocol v1 and example cocktails, as data.

Pure Python (no Django import): ``services.seed_catalogue`` writes it into a clinic's tables, after
which the clinic edits its own copy (each edit a new protocol version). Every clinical number
carries the source it comes from and its tag from docs PRP_REFERENCE: **V** read in the source's
own text, **S** secondary source only, **U** unverified. S and U values are defaults the clinic
may change, never hard rules. Where the reference gives no number the value is ``None``: the
clinic sets it (and until it does, charting cannot warn about it).

Shapes (the charting and aftercare apps read these keys from ``Protocol``):

- zone: ``code``, ``label``, ``map`` ("face" | "scalp"), ``depth_min_mm``, ``depth_max_mm``,
  ``volume_min_ml_cm2``, ``volume_max_ml_cm2`` (float or None), ``note``, ``source``, ``tag``.
- device: ``code``, ``label``, ``min_depth_mm``, ``max_depth_mm`` (float or None; charting refuses
  a depth beyond ``max_depth_mm``), ``passes`` (int or None), ``note``, ``source``, ``tag``.
- technique: ``code``, ``label``, ``note``, ``source``, ``tag``.
- parameters: name -> {``min``, ``max``, ``unit``, ``note``, ``source``, ``tag``}: ranges quoted
  by the reference around the protocol's single defaults (sessions, interval, maintenance).
"""

from __future__ import annotations

from typing import Any, Final

V: Final = "V"
S: Final = "S"
U: Final = "U"

# --- sources, quoted once ---------------------------------------------------------------------
DR_PEN_CHART = "Dr. Pen manufacturer depth chart (thin/thick skin); no peer-reviewed consensus found"
DODDABALLAPUR = "Doddaballapur S. Microneedling with dermaroller. J Cutan Aesthet Surg 2009;2:110"
PEN_PAGES = "Micro-needling pen vendor and clinic pages (adjustable depth up to 2.5 mm; 3 passes)"
PORWAL = "Porwal S et al. Microneedling with PRP. Indian J Dermatol 2018;63:403 (3 sittings monthly)"
SKINPEN = "SkinPen FDA clearance summary (3 treatments 30 days apart)"
GRAHAM = "Graham PM, in Alster & Graham, Dermatol Surg 2018;44:397 (every 4-6 weeks, 2-6 treatments; maintenance 6-12 months)"  # noqa: E501
CERVELLI = "Cervelli V et al. BioMed Res Int 2014:760709 (3 treatments 1 month apart)"
LEGIAWATI = "Legiawati L et al. J Clin Aesthet Dermatol 2023;16:39 (1 cc into 6x4 cm, about 0.04 mL/cm2)"
SCALP_SUMMARIES = "Protocol summaries (3 monthly sessions, maintenance 3-6 months, 0.05-0.1 mL/cm2, 2-4 mm); unverified"
MESO_TECHNIQUES = "Mesotherapy technique descriptions, clinic page (nappage, micropapules 1.5-2 mm, linear retrograde)"
MESO_SCHEDULE = (
    "Mesotherapy schedules in summaries (weekly or every two weeks for 4-6 sessions, then monthly); unverified"
)
MAMMUCARI = "Mammucari M et al. Eur Rev Med Pharmacol Sci 2011;15:682; Mammucari 2020, PMC7305548"
CLINIC_TEXT = "The clinic's own description of its treatments (PRP_REFERENCE section 0)"

# --- zones --------------------------------------------------------------------------------------
# Face zones: the charting body map uses these codes; keep them.
FACE_ZONE_LABELS: Final[list[tuple[str, str]]] = [
    ("forehead", "Forehead"),
    ("glabella", "Glabella"),
    ("periorbital_left", "Periorbital, left"),
    ("periorbital_right", "Periorbital, right"),
    ("nose", "Nose"),
    ("cheek_left", "Cheek, left"),
    ("cheek_right", "Cheek, right"),
    ("perioral", "Perioral"),
    ("chin", "Chin"),
    ("jawline", "Jawline"),
    ("neck", "Neck"),
]
SCALP_ZONE_LABELS: Final[list[tuple[str, str]]] = [
    ("frontal", "Frontal"),
    ("mid_scalp", "Mid-scalp"),
    ("vertex", "Vertex"),
    ("temporal_left", "Temporal, left"),
    ("temporal_right", "Temporal, right"),
    ("occipital", "Occipital"),
]

# Micro-needling needle depth per face zone, mm: (min, max, note). The chart gives thin / thick
# skin values; the range spans both. Glabella, jawline and neck have no number in the reference.
_MICRONEEDLING_DEPTHS: Final[dict[str, tuple[float, float, str]]] = {
    "forehead": (0.25, 0.75, "thin skin 0.25-0.5, thick skin 0.5-0.75"),
    "periorbital_left": (0.25, 0.5, "thin skin 0.25, thick skin 0.25-0.5"),
    "periorbital_right": (0.25, 0.5, "thin skin 0.25, thick skin 0.25-0.5"),
    "nose": (0.25, 0.5, "thin skin 0.25, thick skin 0.5"),
    "perioral": (0.25, 0.75, "chart's upper lip: thin skin 0.25, thick skin 0.25-0.75"),
    "cheek_left": (0.5, 2.0, "cheek and chin: thin skin 0.5-1.0, thick skin 1.0-2.0"),
    "cheek_right": (0.5, 2.0, "cheek and chin: thin skin 0.5-1.0, thick skin 1.0-2.0"),
    "chin": (0.5, 2.0, "cheek and chin: thin skin 0.5-1.0, thick skin 1.0-2.0"),
}


def _zone(
    code: str,
    label: str,
    body_map: str,
    *,
    depth: tuple[float, float] | None = None,
    volume: tuple[float, float] | None = None,
    note: str = "",
    source: str = "",
    tag: str = "",
) -> dict[str, Any]:
    return {
        "code": code,
        "label": label,
        "map": body_map,
        "depth_min_mm": depth[0] if depth else None,
        "depth_max_mm": depth[1] if depth else None,
        "volume_min_ml_cm2": volume[0] if volume else None,
        "volume_max_ml_cm2": volume[1] if volume else None,
        "note": note,
        "source": source,
        "tag": tag,
    }


def microneedling_zones() -> list[dict[str, Any]]:
    zones = []
    for code, label in FACE_ZONE_LABELS:
        if code in _MICRONEEDLING_DEPTHS:
            low, high, note = _MICRONEEDLING_DEPTHS[code]
            zones.append(_zone(code, label, "face", depth=(low, high), note=note, source=DR_PEN_CHART, tag=S))
        else:
            zones.append(_zone(code, label, "face", note="No depth in the reference: the clinic sets it."))
    return zones


def scalp_zones() -> list[dict[str, Any]]:
    note = "Legiawati 2023 gave about 0.04 mL/cm2 [V]; 0.05-0.1 mL/cm2 and 2-4 mm are unverified defaults."
    return [
        _zone(code, label, "scalp", depth=(2.0, 4.0), volume=(0.05, 0.1), note=note, source=SCALP_SUMMARIES, tag=U)
        for code, label in SCALP_ZONE_LABELS
    ]


def mesotherapy_zones() -> list[dict[str, Any]]:
    # Mesotherapy goes into the middle layer of the skin only; the micropapule depth stands in
    # for "mid-dermis" as the clinic's default until it sets its own.
    note = "Middle layer of the skin only; micropapules 1.5-2 mm (default, clinic may change)."
    return [
        _zone(code, label, "face", depth=(1.5, 2.0), note=note, source=MESO_TECHNIQUES, tag=S)
        for code, label in FACE_ZONE_LABELS
    ]


# --- devices and techniques -----------------------------------------------------------------
MICRONEEDLING_DEVICES: Final[list[dict[str, Any]]] = [
    {
        "code": "pen",
        "label": "Micro-needling pen",
        "min_depth_mm": None,
        "max_depth_mm": 2.5,
        "passes": 3,
        "note": "Adjustable depth up to 2.5 mm; 3 passes in different directions; stamping on scars.",
        "source": PEN_PAGES,
        "tag": S,
    },
    {
        "code": "roller",
        "label": "Dermaroller",
        "min_depth_mm": 0.5,
        "max_depth_mm": 1.5,
        "passes": 15,
        "note": "192 needles in 8 rows, 0.5-1.5 mm long; about 15 passes give about 250 holes/cm2.",
        "source": DODDABALLAPUR,
        "tag": V,
    },
]
SCALP_DEVICES: Final[list[dict[str, Any]]] = [
    {
        "code": "needle",
        "label": "Syringe and fine needle (injection)",
        "min_depth_mm": None,
        "max_depth_mm": None,
        "passes": None,
        "note": "A 30G needle and 1 cm spacing are quoted in summaries (unverified).",
        "source": SCALP_SUMMARIES,
        "tag": U,
    },
]
MESOTHERAPY_DEVICES: Final[list[dict[str, Any]]] = [
    {
        "code": "needle",
        "label": "Syringe and mesotherapy needle",
        "min_depth_mm": None,
        "max_depth_mm": None,
        "passes": None,
        "note": "Needle length and gauge: the clinic sets them.",
        "source": "",
        "tag": "",
    },
]
MESOTHERAPY_TECHNIQUES: Final[list[dict[str, Any]]] = [
    {
        "code": "nappage",
        "label": "Nappage",
        "note": "Two thirds of the bevel inserted tangentially; epidermal and superficial.",
        "source": MESO_TECHNIQUES,
        "tag": S,
    },
    {
        "code": "papule",
        "label": "Papule (micropapules)",
        "note": "1.5-2 mm deep, about 10 mm apart.",
        "source": MESO_TECHNIQUES,
        "tag": S,
    },
    {
        "code": "point_by_point",
        "label": "Point by point",
        "note": "Single micro-deposits, one per point.",
        "source": MAMMUCARI,
        "tag": V,
    },
    {
        "code": "linear_retrograde",
        "label": "Linear retrograde",
        "note": "Injected while the needle is withdrawn along a line.",
        "source": MESO_TECHNIQUES,
        "tag": S,
    },
]
SCALP_TECHNIQUES: Final[list[dict[str, Any]]] = [
    {
        "code": "point_by_point",
        "label": "Point by point injection",
        "note": "Intradermal injections across the thinning area.",
        "source": LEGIAWATI,
        "tag": V,
    },
]
MICRONEEDLING_TECHNIQUES: Final[list[dict[str, Any]]] = [
    {
        "code": "passes",
        "label": "Passes in different directions",
        "note": "Micro-needling to pinpoint bleeding, then PRP applied into the channels.",
        "source": GRAHAM,
        "tag": S,
    },
    {"code": "stamping", "label": "Stamping", "note": "On scars.", "source": PEN_PAGES, "tag": S},
]


def _range(low: float, high: float, unit: str, source: str, tag: str, note: str = "") -> dict[str, Any]:
    return {"min": low, "max": high, "unit": unit, "note": note, "source": source, "tag": tag}


# --- aftercare (the clinic's editable default; general advice, no numbers) ------------------
_AFTERCARE_COMMON = (
    "Call the clinic straight away if you notice increasing pain, swelling or warmth, pus, a fever, "
    "blisters, or anything that worries you.\n"
    "Keep the clinic's phone number at hand; bring this sheet to your next visit."
)
AFTERCARE: Final[dict[str, str]] = {
    "microneedling_prp": (
        "Your skin will look red and may feel warm, tight or slightly swollen, like a mild sunburn. "
        "This settles by itself over the next days.\n"
        "Do not wash the treated area until the time your clinician told you; then use lukewarm water "
        "and a gentle cleanser, and pat dry.\n"
        "Do not touch, scratch or pick the skin. Do not wear make-up until your clinician says you may.\n"
        "Stay out of the sun and use the sun protection your clinician recommended.\n"
        "Avoid sauna, steam rooms, swimming pools and heavy exercise for the time your clinician gave you.\n"
        "Do not use peels, retinoids, acids or scrubs on the treated area until your clinician says so.\n"
        + _AFTERCARE_COMMON
    ),
    "prp_scalp": (
        "Your scalp may feel sore, tender or tight, and there may be small spots of blood or slight swelling "
        "where the injections were given. This settles by itself.\n"
        "Do not wash your hair or use hair products until the time your clinician told you.\n"
        "Do not touch or scratch the treated area. Avoid hair dye, perms and other hair treatments until your "
        "clinician says you may.\n"
        "Avoid sauna, steam rooms, swimming pools and heavy exercise for the time your clinician gave you.\n"
        "Ask your clinician before taking anti-inflammatory painkillers after the treatment.\n" + _AFTERCARE_COMMON
    ),
    "mesotherapy": (
        "Small bumps, redness, tenderness or small bruises where the injections were given are common and "
        "settle by themselves.\n"
        "Do not touch, rub or massage the treated area. Do not wear make-up until your clinician says you may.\n"
        "Stay out of the sun and use the sun protection your clinician recommended.\n"
        "Avoid sauna, steam rooms, swimming pools and heavy exercise for the time your clinician gave you.\n"
        + _AFTERCARE_COMMON
    ),
}

# --- patient-facing text (our words after PRP_REFERENCE section 0) ---------------------------
PATIENT_TEXT: Final[dict[str, tuple[str, str]]] = {
    "microneedling_prp": (
        "Skin rejuvenation with your own platelet-rich plasma, with a quick recovery.",
        "Micro-needling with PRP is a minimally invasive skin-rejuvenation treatment that aims to stimulate "
        "your body's own production of collagen. It is most often chosen against wrinkles.\n"
        "Two procedures are done one after the other. First, micro-needling (also called collagen induction "
        "therapy): the skin is pricked with a fine-needled pen or roller, which opens tiny channels and "
        "starts the formation of new collagen. Then PRP is applied into those channels.\n"
        "PRP (platelet-rich plasma) is made from your own blood: a small sample is drawn and spun in a "
        "centrifuge to separate the plasma rich in platelets, which carries concentrated growth factors.\n"
        "Recovery is quick; your skin will be red for a short while afterwards.",
    ),
    "prp_scalp": (
        "Injections of your own platelet-rich plasma into the scalp, for thinning hair.",
        "PRP for hair loss has three steps: a small amount of your blood is drawn, processed in a centrifuge "
        "to concentrate the platelets, and the platelet-rich plasma is injected into the scalp where the hair "
        "is thinning.\n"
        "It is thought to work by improving the blood supply to the hair follicle and thickening the hair "
        "shaft; results differ from person to person and studies do not all agree.\n"
        "It can be combined with other hair-loss treatments or medicines; your physician will talk this "
        "through with you.",
    ),
    "mesotherapy": (
        "A series of small injections of a nourishing cocktail into the middle layer of the skin.",
        "Mesotherapy is a series of small injections, through the skin, of a cocktail based on hyaluronic acid "
        "with bionutrients: minerals (calcium, potassium, magnesium, sodium), vitamins (A, B, C, E, K) and "
        "amino acids (alanine, arginine, glycine, tyrosine, tryptophan). It is placed only into the middle "
        "layer of the skin, and is given by a physician.\n"
        "How it differs from PRP: the two differ in what is injected. PRP is your own platelet-enriched "
        "plasma, made from a blood sample in a centrifuge, and may be placed in any layer of the skin. "
        "Mesotherapy uses a prepared product instead, with no blood draw and no centrifuge.",
    ),
}

NAMES: Final[dict[str, str]] = {
    "microneedling_prp": "Micro-needling with PRP",
    "prp_scalp": "PRP for hair loss",
    "mesotherapy": "Mesotherapy",
}


def protocols() -> dict[str, dict[str, Any]]:
    """Protocol v1 of each treatment kind (fresh dicts: callers may change them)."""
    return {
        "microneedling_prp": {
            # 3 sittings monthly (Porwal 2018 [V]; SkinPen: 3 treatments 30 days apart [S]).
            "sessions": 3,
            "interval_days": 30,
            # Maintenance every 6-12 months [S]: the lower bound, about 6 months, as the default.
            "maintenance_interval_days": 180,
            "zones": microneedling_zones(),
            "devices": [dict(d) for d in MICRONEEDLING_DEVICES],
            "techniques": [dict(t) for t in MICRONEEDLING_TECHNIQUES],
            "parameters": {
                "sessions": _range(2, 6, "sessions", GRAHAM, S),
                "interval_days": _range(28, 42, "days", GRAHAM, S, "every 4-6 weeks"),
                "maintenance_interval_days": _range(180, 365, "days", GRAHAM, S, "every 6-12 months"),
            },
            "aftercare": AFTERCARE["microneedling_prp"],
            "sources": [
                {"citation": PORWAL, "tag": V},
                {"citation": SKINPEN, "tag": S},
                {"citation": GRAHAM, "tag": S},
                {"citation": DR_PEN_CHART, "tag": S},
                {"citation": DODDABALLAPUR, "tag": V},
                {"citation": PEN_PAGES, "tag": S},
            ],
        },
        "prp_scalp": {
            # 3 treatments 1 month apart (Cervelli 2014 [V]); a month taken as 30 days.
            "sessions": 3,
            "interval_days": 30,
            # Maintenance every 3-6 months [U]: the lower bound, about 3 months, as the default.
            "maintenance_interval_days": 90,
            "zones": scalp_zones(),
            "devices": [dict(d) for d in SCALP_DEVICES],
            "techniques": [dict(t) for t in SCALP_TECHNIQUES],
            "parameters": {
                "maintenance_interval_days": _range(90, 180, "days", SCALP_SUMMARIES, U, "every 3-6 months"),
                "injection_depth_mm": _range(2.0, 4.0, "mm", SCALP_SUMMARIES, U),
                "volume_ml_cm2": _range(0.05, 0.1, "mL/cm2", SCALP_SUMMARIES, U, "Legiawati 2023: about 0.04 [V]"),
            },
            "aftercare": AFTERCARE["prp_scalp"],
            "sources": [
                {"citation": CERVELLI, "tag": V},
                {"citation": LEGIAWATI, "tag": V},
                {"citation": SCALP_SUMMARIES, "tag": U},
            ],
        },
        "mesotherapy": {
            # Weekly or every two weeks for 4-6 sessions, then monthly [U]: 4 weekly sessions by default.
            "sessions": 4,
            "interval_days": 7,
            "maintenance_interval_days": 30,
            "zones": mesotherapy_zones(),
            "devices": [dict(d) for d in MESOTHERAPY_DEVICES],
            "techniques": [dict(t) for t in MESOTHERAPY_TECHNIQUES],
            "parameters": {
                "sessions": _range(4, 6, "sessions", MESO_SCHEDULE, U),
                "interval_days": _range(7, 14, "days", MESO_SCHEDULE, U, "weekly or every two weeks"),
                "maintenance_interval_days": _range(30, 30, "days", MESO_SCHEDULE, U, "then monthly"),
                "mid_dermis_depth_mm": _range(1.5, 2.0, "mm", MESO_TECHNIQUES, S, "micropapules; middle layer only"),
            },
            "aftercare": AFTERCARE["mesotherapy"],
            "sources": [
                {"citation": MAMMUCARI, "tag": V},
                {"citation": MESO_TECHNIQUES, "tag": S},
                {"citation": MESO_SCHEDULE, "tag": U},
            ],
        },
    }


# Example face cocktails: ingredient names only (PRP_REFERENCE sections 0 and 7), no concentrations.
COCKTAILS: Final[list[dict[str, Any]]] = [
    {
        "name": "Face revitalising (example)",
        "ingredients": [
            "hyaluronic acid",
            "vitamin A",
            "vitamin B",
            "vitamin C",
            "vitamin E",
            "vitamin K",
            "calcium",
            "potassium",
            "magnesium",
            "sodium",
        ],
        "notes": "Example from the catalogue; set the product and its composition from the manufacturer's leaflet.",
    },
    {
        "name": "Face amino-acid (example)",
        "ingredients": ["hyaluronic acid", "alanine", "arginine", "glycine", "tyrosine", "tryptophan"],
        "notes": "Example from the catalogue; set the product and its composition from the manufacturer's leaflet.",
    },
]
