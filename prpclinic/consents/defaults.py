"""The default consent texts every clinic starts with (version 1 of each template; clinic-editable).

Written plainly and carefully from docs/PRP_REFERENCE (§0 what the clinic says about its
treatments, §4 contraindications, §5 micro-needling, §6 PRP for hair loss, §7 mesotherapy). They
state no success rates, percentages or other statistics: the reference has none that would hold
for an individual patient, and the clinic should add its own figures only with a source. The
number of sessions and intervals are left to the treatment plan (prpclinic.treatments).
"""

from __future__ import annotations

from typing import Final

SOURCES: Final = (
    "PRP_REFERENCE §0 (the clinic's description of its treatments), §4 (contraindications), "
    "§5 (micro-needling), §6 (PRP for hair loss), §7 (mesotherapy and how it differs from PRP)."
)

# Section headings as the signer sees them. The photography consent reuses the five text fields.
HEADINGS: Final[dict[str, dict[str, str]]] = {
    "treatment": {
        "procedure": "The procedure",
        "benefits": "Expected benefits",
        "risks": "Risks and side effects",
        "alternatives": "Alternatives",
        "aftercare": "Aftercare",
    },
    "photography": {
        "procedure": "What photographs are taken",
        "benefits": "Why photographs help",
        "risks": "Risks to your privacy",
        "alternatives": "If you say no",
        "aftercare": "Keeping photographs and withdrawing consent",
    },
}


def headings_for(kind: str) -> dict[str, str]:
    return HEADINGS["photography" if kind == "photography" else "treatment"]


PRP_VS_MESOTHERAPY: Final = (
    "How PRP differs from mesotherapy: PRP (platelet-rich plasma) is made from your own blood. A blood "
    "sample is drawn, spun in a centrifuge to separate the plasma rich in platelets, and that plasma is "
    "applied or injected. Mesotherapy uses no blood: it injects products from outside your body "
    "(hyaluronic acid, vitamins, minerals and amino acids) into the middle layer of the skin only."
)

_COMMON_RISKS: Final = (
    "Redness, swelling, tenderness and small bruises where the skin was treated are common and usually "
    "settle within days. Less often: infection, a flare of cold sores (herpes simplex) in people who "
    "have had them, an allergic reaction, changes in skin colour (darker or lighter patches), or "
    "scarring. The result varies from person to person and cannot be guaranteed."
)

_BLOOD_DRAW_RISKS: Final = (
    "Drawing blood can cause a bruise, soreness or, rarely, fainting or a local infection at the needle site."
)

_TELL_US: Final = (
    "Tell us before treatment about any bleeding disorder or blood-thinning medicine, anti-inflammatory "
    "painkillers, steroid medicines or injections, pregnancy or breastfeeding, infections or cold sores, "
    "skin conditions in the area, a tendency to keloid or raised scars, diabetes, cancer or its treatment, "
    "and allergies (for example to local anaesthetics or metals)."
)

_CONTACT: Final = (
    "Contact the clinic at once if you notice increasing pain, spreading redness, warmth, pus, fever, "
    "blisters, or anything that worries you."
)

TEMPLATES: Final[dict[str, dict[str, str]]] = {
    "microneedling_prp": {
        "title": "Consent to micro-needling with PRP",
        "procedure": (
            "Micro-needling with PRP is a minimally invasive skin treatment meant to stimulate your body's own "
            "collagen. Two procedures are done one after the other.\n"
            "1. A small sample of your blood is drawn and spun in a centrifuge to prepare platelet-rich plasma "
            "(PRP) from it. The PRP is for you alone and is checked against your identity before use.\n"
            "2. The skin is cleaned (and may be numbed with a cream). A device with fine needles makes many tiny "
            "channels in the skin, and the PRP is applied to the skin and into these channels.\n"
            "The number of sessions and the time between them are agreed in your treatment plan.\n\n"
            + PRP_VS_MESOTHERAPY
        ),
        "benefits": (
            "The treatment aims to improve the texture and appearance of the skin, for example fine lines, "
            "wrinkles or scars, through new collagen. Changes appear gradually over weeks to months and usually "
            "need a series of sessions. Improvement is not certain and differs between people."
        ),
        "risks": (
            _COMMON_RISKS
            + " Pinpoint bleeding during the treatment is expected.\n"
            + _BLOOD_DRAW_RISKS
            + "\n"
            + _TELL_US
        ),
        "alternatives": (
            "You may choose no treatment. Other options include micro-needling without PRP, skin care products, "
            "chemical peels, laser or other energy-based treatments, and mesotherapy. Your clinician can explain "
            "how they compare for you."
        ),
        "aftercare": (
            "Keep the treated skin clean; do not touch or rub it. Avoid make-up, sun exposure, sauna, swimming "
            "and strenuous exercise for the period your clinician tells you, and use sun protection. You will "
            "receive written aftercare instructions. " + _CONTACT
        ),
        "statement": (
            "I have read and understood this information about micro-needling with PRP, including the blood "
            "draw, the risks and the alternatives. My questions have been answered. I consent to micro-needling "
            "with PRP prepared from my own blood, and I know I may withdraw this consent at any time."
        ),
    },
    "prp_scalp": {
        "title": "Consent to PRP treatment for hair loss",
        "procedure": (
            "PRP treatment for hair loss has three steps.\n"
            "1. A small sample of your blood is drawn.\n"
            "2. The blood is spun in a centrifuge to prepare platelet-rich plasma (PRP). The PRP is for you "
            "alone and is checked against your identity before use.\n"
            "3. The PRP is injected into the skin of the scalp in the thinning areas with a fine needle.\n"
            "The number of sessions and the time between them are agreed in your treatment plan. PRP may be "
            "combined with other hair-loss treatments or medicines.\n\n" + PRP_VS_MESOTHERAPY
        ),
        "benefits": (
            "The treatment aims to slow hair loss and to improve hair density and thickness. How it works is not "
            "fully known. Studies disagree about how well it works, results differ between people, and some "
            "people see no improvement. Changes, if any, appear gradually over months."
        ),
        "risks": (
            "Pain during the injections, tenderness, swelling, redness and small bruises on the scalp are common "
            "and usually settle within days. Less often: headache, infection, an allergic reaction or a "
            "temporary increase in hair shedding.\n" + _BLOOD_DRAW_RISKS + "\n" + _TELL_US
        ),
        "alternatives": (
            "You may choose no treatment. Other options include medicines for hair loss, low-level light "
            "therapy, hair transplantation and camouflage products. Your clinician can explain how they compare "
            "for you."
        ),
        "aftercare": (
            "Do not wash your hair or use hair products for the period your clinician tells you. Avoid sauna, "
            "swimming and strenuous exercise for the period your clinician tells you. You will receive written "
            "aftercare instructions. " + _CONTACT
        ),
        "statement": (
            "I have read and understood this information about PRP treatment for hair loss, including the blood "
            "draw, the risks and the alternatives. My questions have been answered. I consent to scalp "
            "injections of PRP prepared from my own blood, and I know I may withdraw this consent at any time."
        ),
    },
    "mesotherapy": {
        "title": "Consent to mesotherapy",
        "procedure": (
            "Mesotherapy is a series of very small injections into the middle layer of the skin. The injected "
            "product is made from substances from outside your body, such as hyaluronic acid, vitamins, minerals "
            "and amino acids; the product used and its batch are recorded in your chart. No blood is drawn. The "
            "injections are given by a physician. The number of sessions and the time between them are agreed "
            "in your treatment plan.\n\n" + PRP_VS_MESOTHERAPY
        ),
        "benefits": (
            "The treatment aims to improve the hydration, texture and appearance of the skin. Results differ "
            "between people, are not certain, and usually need a series of sessions."
        ),
        "risks": (
            _COMMON_RISKS
            + " Small raised bumps at the injection points are expected and usually flatten within a day or two. "
            "An allergic reaction to an ingredient of the product is possible.\n" + _TELL_US
        ),
        "alternatives": (
            "You may choose no treatment. Other options include skin care products, chemical peels, "
            "micro-needling (with or without PRP made from your own blood) and laser or other energy-based "
            "treatments. Your clinician can explain how they compare for you."
        ),
        "aftercare": (
            "Do not touch or massage the treated skin. Avoid make-up, sun exposure, sauna, swimming and "
            "strenuous exercise for the period your clinician tells you. You will receive written aftercare "
            "instructions. " + _CONTACT
        ),
        "statement": (
            "I have read and understood this information about mesotherapy, including the risks and the "
            "alternatives, and that it injects products that do not come from my own body. My questions have "
            "been answered. I consent to mesotherapy, and I know I may withdraw this consent at any time."
        ),
    },
    "photography": {
        "title": "Consent to photography and to the use of photographs",
        "procedure": (
            "We take photographs of the treated area before treatment and at follow-up visits, in standard "
            "positions and lighting so that they can be compared. This consent is separate from your consent to "
            "treatment: you may be treated without agreeing to photographs."
        ),
        "benefits": (
            "Photographs let you and your clinician see changes over time and help plan your treatment. With "
            "your permission, anonymised photographs also help teach other clinicians."
        ),
        "risks": (
            "Photographs are personal health data. They are stored in your record, are not publicly accessible, "
            "and are seen only by staff who need them. Anonymised photographs can, in rare cases, still be "
            "recognised by people who know you. Photographs used for marketing can be seen by anyone."
        ),
        "alternatives": (
            "You may refuse photographs, or agree to some uses and not others. Saying no does not change your care."
        ),
        "aftercare": (
            "Photographs are kept with your clinical record for as long as the law requires. You may withdraw "
            "this consent at any time; we then stop any further use. Photographs already published cannot "
            "always be recalled."
        ),
        "statement": (
            "I have read and understood this information about photographs. I consent to photographs being "
            "taken and used only for the uses I have ticked, and I know I may withdraw this consent at any time."
        ),
    },
}
