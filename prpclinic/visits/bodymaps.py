"""Where each charting zone is drawn on the face and scalp maps (pure data, no Django import).

The protocol (treatments app) says which zones a treatment uses and their clinical ranges; this
module only says where a zone code sits on the drawing. A zone the clinic adds that has no
drawing here still gets a tappable shape, in a row under the map, so every zone of the protocol
can be charted.

Maps are drawn as the clinician faces the patient: the patient's left is on the right of the
drawing (labels say "patient's left" so nobody has to remember that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Both maps share one width so the CSS can size them alike; undrawn zones add rows below.
WIDTH = 320
HEIGHT = 400


@dataclass(frozen=True)
class Shape:
    """An SVG shape: ``kind`` "ellipse" (cx, cy, rx, ry) or "path" (d), and where its label goes."""

    kind: str
    attrs: dict[str, str]
    label_x: int
    label_y: int
    short: str  # the label drawn on the map (the full label is the aria-label)


def _ellipse(cx: int, cy: int, rx: int, ry: int, short: str, dy: int = 4) -> Shape:
    return Shape("ellipse", {"cx": str(cx), "cy": str(cy), "rx": str(rx), "ry": str(ry)}, cx, cy + dy, short)


def _path(d: str, x: int, y: int, short: str) -> Shape:
    return Shape("path", {"d": d}, x, y, short)


# Face, front view. Shapes are at least ~44 CSS px tall on a tablet at the map's rendered size.
FACE: dict[str, Shape] = {
    "forehead": _ellipse(160, 62, 92, 34, "Forehead"),
    "glabella": _ellipse(160, 112, 24, 16, "Glabella"),
    "periorbital_right": _ellipse(103, 132, 36, 20, "Periorb. R"),
    "periorbital_left": _ellipse(217, 132, 36, 20, "Periorb. L"),
    "nose": _path("M145 128 L175 128 L186 198 L134 198 Z", 160, 176, "Nose"),
    "cheek_right": _ellipse(92, 200, 36, 44, "Cheek R"),
    "cheek_left": _ellipse(228, 200, 36, 44, "Cheek L"),
    "perioral": _ellipse(160, 232, 46, 24, "Perioral"),
    "chin": _ellipse(160, 282, 34, 20, "Chin"),
    "jawline": _path(
        "M62 236 Q70 290 118 306 L124 292 Q84 276 78 232 Z M258 236 Q250 290 202 306 L196 292 Q236 276 242 232 Z",
        160,
        318,
        "Jawline",
    ),
    "neck": _path("M112 326 L208 326 L218 392 L102 392 Z", 160, 364, "Neck"),
}

# Scalp, seen from above, forehead at the top.
SCALP: dict[str, Shape] = {
    "frontal": _ellipse(160, 78, 76, 40, "Frontal"),
    "temporal_right": _ellipse(70, 170, 34, 62, "Temp. R"),
    "temporal_left": _ellipse(250, 170, 34, 62, "Temp. L"),
    "mid_scalp": _ellipse(160, 168, 52, 44, "Mid-scalp"),
    "vertex": _ellipse(160, 254, 60, 40, "Vertex"),
    "occipital": _ellipse(160, 334, 84, 34, "Occipital"),
}

MAPS: dict[str, dict[str, Shape]] = {"face": FACE, "scalp": SCALP}
MAP_TITLES = {"face": "Face", "scalp": "Scalp (seen from above)"}
OUTLINES = {
    # Head outlines drawn under the zones (not tappable).
    "face": "M160 20 C70 20 46 100 52 180 C58 260 100 318 160 320 C220 318 262 260 268 180 C274 100 250 20 160 20 Z",
    "scalp": "M160 30 C60 30 30 120 34 200 C38 300 90 380 160 380 C230 380 282 300 286 200 C290 120 260 30 160 30 Z",
}
# Zones with no drawing: rows of four ellipses under the map.
EXTRA_PER_ROW = 4
EXTRA_ROW_HEIGHT = 48


def map_view(map_name: str, zones: list[dict[str, Any]]) -> dict[str, Any]:
    """The drawing of ``map_name`` for the protocol's ``zones`` of that map, in protocol order.

    ``zones`` are dicts with at least ``code`` and ``label``; each comes back with ``shape`` (a
    :class:`Shape`) added and its other keys kept. Returns ``{"name", "title", "outline",
    "viewbox", "zones"}``.
    """
    drawn = MAPS.get(map_name, {})
    placed: list[dict[str, Any]] = []
    extra = 0
    for zone in zones:
        shape = drawn.get(zone["code"])
        if shape is None:
            row, col = divmod(extra, EXTRA_PER_ROW)
            x, y = 40 + col * 80, HEIGHT + 28 + row * EXTRA_ROW_HEIGHT
            shape = _ellipse(x, y, 36, 20, str(zone.get("label") or zone["code"])[:10])
            extra += 1
        placed.append({**zone, "shape": shape})
    rows = -(-extra // EXTRA_PER_ROW)
    return {
        "name": map_name,
        "title": MAP_TITLES.get(map_name, map_name.title()),
        "outline": OUTLINES.get(map_name, ""),
        "viewbox": f"0 0 {WIDTH} {HEIGHT + rows * EXTRA_ROW_HEIGHT + (8 if rows else 0)}",
        "zones": placed,
    }
