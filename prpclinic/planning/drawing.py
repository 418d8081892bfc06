"""A drawing of the tube after a spin, as server-made SVG: layers, and where to draw off."""

from __future__ import annotations

from django.utils.html import escape

from prpclinic.planner.model import StepResult
from prpclinic.planner.protocol import KeepLowerFraction, KeepLowerVolume

WIDTH, HEIGHT, TOP, TUBE_W = 260, 300, 20, 60
MIN_LABEL_PX = 14  # a layer thinner than this on the drawing gets no label


def tube_svg(step: StepResult, *, title: str) -> str:
    """One tube: red cells, the white-cell band, plasma up to the meniscus, the cut line."""
    tube = step.tube
    scale = (HEIGHT - 2 * TOP) / tube.inner_length_mm
    x0 = 80

    def y(mm: float) -> float:
        return HEIGHT - TOP - mm * scale

    layers = step.layers
    red, buffy_lo, buffy_hi, meniscus = (
        layers.red_top_mm,
        layers.buffy_bottom_mm,
        layers.buffy_top_mm,
        layers.meniscus_mm,
    )
    keeps_below = isinstance(step.harvest, (KeepLowerFraction, KeepLowerVolume))
    side = "keep below" if keeps_below else "draw off above"
    radius = min(TUBE_W / 2, tube.radius_mm * scale) if tube.bottom != "flat" else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="tube" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<clipPath id="c{id(step)}"><rect x="{x0}" y="{TOP}" width="{TUBE_W}" height="{HEIGHT - 2 * TOP}" '
        f'rx="{radius:.1f}"/></clipPath>',
        f'<g clip-path="url(#c{id(step)})">',
        f'<rect x="{x0}" y="{y(meniscus):.1f}" width="{TUBE_W}" height="{y(red) - y(meniscus):.1f}" class="plasma"/>',
        f'<rect x="{x0}" y="{y(red):.1f}" width="{TUBE_W}" height="{y(0) - y(red):.1f}" class="red"/>',
    ]
    # The white-cell band is drawn where it gathered at the red cells' surface; after a soft spin
    # the model leaves it inside the red layer, which a drawing would only confuse.
    if buffy_hi > buffy_lo and buffy_hi >= red - 2:
        parts.append(
            f'<rect x="{x0}" y="{y(buffy_hi):.1f}" width="{TUBE_W}" height="{max(y(buffy_lo) - y(buffy_hi), 1.5):.1f}" '
            'class="buffy"/>'
        )
    parts += [
        "</g>",
        f'<rect x="{x0}" y="{TOP}" width="{TUBE_W}" height="{HEIGHT - 2 * TOP}" rx="{radius:.1f}" class="glass"/>',
        f'<line x1="{x0 - 12}" x2="{x0 + TUBE_W + 12}" y1="{y(step.cut_mm):.1f}" y2="{y(step.cut_mm):.1f}" '
        'class="cut"/>',
        f'<text x="{x0 + TUBE_W + 16}" y="{y(step.cut_mm) + 4:.1f}" class="label">{side}</text>',
        f'<text x="{x0 + TUBE_W + 16}" y="{y(step.cut_mm) + 18:.1f}" class="label small">{step.cut_mm:.0f} mm</text>',
    ]
    for name, low, high in (("red cells", 0.0, red), ("plasma", red, meniscus)):
        if y(low) - y(high) >= MIN_LABEL_PX:
            parts.append(
                f'<text x="{x0 - 8}" y="{(y(low) + y(high)) / 2 + 4:.1f}" text-anchor="end" class="label small">'
                f"{name}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
