"""Tube geometry: the cross-section area A(z) along the tube's axis, z measured up from the bottom.

The sedimentation model is one-dimensional along the axis, so a tube is only its area profile: a
cylinder of inner diameter D on a flat, round (hemispherical) or conical bottom. Dimensions of the
example tubes below are nominal (the trade names give outer diameter x length); measure the
inner dimensions of the tubes you use and pass them in.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Bottom = Literal["flat", "round", "conical"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Tube:
    """A centrifuge tube: inner diameter, inner length and bottom shape (all in mm).

    ``cone_height_mm`` is the height of the conical tip (only for ``bottom="conical"``); a round
    bottom is a hemisphere of the tube's inner radius.
    """

    name: str
    inner_diameter_mm: float
    inner_length_mm: float
    bottom: Bottom = "round"
    cone_height_mm: float = 0.0

    def __post_init__(self) -> None:
        if self.inner_diameter_mm <= 0 or self.inner_length_mm <= 0:
            raise ValueError("a tube needs a positive inner diameter and length")
        if self.bottom == "conical" and not 0 < self.cone_height_mm < self.inner_length_mm:
            raise ValueError("a conical tube needs a cone height between 0 and its length")
        if self.bottom == "round" and self.inner_diameter_mm / 2 >= self.inner_length_mm:
            raise ValueError("the round bottom does not fit in the tube's length")

    @property
    def radius_mm(self) -> float:
        return self.inner_diameter_mm / 2.0

    @property
    def bottom_height_mm(self) -> float:
        """Height of the bottom's curved or conical part."""
        if self.bottom == "round":
            return self.radius_mm
        if self.bottom == "conical":
            return self.cone_height_mm
        return 0.0

    @property
    def capacity_ml(self) -> float:
        return self.volume_below_ml(self.inner_length_mm)

    def area_mm2(self, z_mm: FloatArray | float) -> FloatArray:
        """Cross-section area (mm²) at height ``z_mm`` above the bottom."""
        z = np.clip(np.asarray(z_mm, dtype=np.float64), 0.0, self.inner_length_mm)
        r = self.radius_mm
        if self.bottom == "round":
            # Hemisphere: radius at height z is sqrt(r² - (r - z)²) below the equator.
            below = z < r
            rr = np.where(below, r * r - (r - z) ** 2, r * r)
            return np.asarray(math.pi * rr, dtype=np.float64)
        if self.bottom == "conical":
            h = self.cone_height_mm
            rz = np.where(z < h, r * z / h, r)
            return np.asarray(math.pi * rz * rz, dtype=np.float64)
        return np.full_like(z, math.pi * r * r)

    def volume_below_mm3(self, z_mm: FloatArray | float) -> FloatArray:
        """Volume (mm³) of the tube between the bottom and height ``z_mm``, exactly."""
        z = np.clip(np.asarray(z_mm, dtype=np.float64), 0.0, self.inner_length_mm)
        r = self.radius_mm
        full = math.pi * r * r
        if self.bottom == "round":
            zc = np.minimum(z, r)
            # Spherical cap of height zc: pi zc² (3r - zc) / 3.
            cap = math.pi * zc * zc * (3.0 * r - zc) / 3.0
            return np.asarray(cap + full * np.maximum(z - r, 0.0), dtype=np.float64)
        if self.bottom == "conical":
            h = self.cone_height_mm
            zc = np.minimum(z, h)
            cone = full * zc**3 / (3.0 * h * h)
            return np.asarray(cone + full * np.maximum(z - h, 0.0), dtype=np.float64)
        return np.asarray(full * z, dtype=np.float64)

    def volume_below_ml(self, z_mm: float) -> float:
        return float(self.volume_below_mm3(z_mm)) / 1000.0

    def height_of_volume_mm(self, volume_ml: float) -> float:
        """Height (mm) of the liquid surface when the tube holds ``volume_ml``."""
        if volume_ml < 0:
            raise ValueError("a volume cannot be negative")
        if volume_ml > self.capacity_ml * (1 + 1e-12):
            raise ValueError(f"{volume_ml:.2f} mL does not fit in {self.name} ({self.capacity_ml:.2f} mL)")
        target = volume_ml * 1000.0
        lo, hi = 0.0, self.inner_length_mm
        for _ in range(60):  # bisection to far below a micrometre
            mid = 0.5 * (lo + hi)
            if self._volume_below_scalar(mid) < target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def _volume_below_scalar(self, z: float) -> float:
        """``volume_below_mm3`` for one height in plain floats (the same operations, so the same
        result, without NumPy's per-call cost: the bisection calls it 60 times)."""
        z = min(max(z, 0.0), self.inner_length_mm)
        r = self.radius_mm
        full = math.pi * r * r
        if self.bottom == "round":
            zc = min(z, r)
            return math.pi * zc * zc * (3.0 * r - zc) / 3.0 + full * max(z - r, 0.0)
        if self.bottom == "conical":
            h = self.cone_height_mm
            zc = min(z, h)
            return full * zc**3 / (3.0 * h * h) + full * max(z - h, 0.0)
        return full * z


@dataclass(frozen=True, slots=True)
class Grid:
    """Finite volumes along the axis from the bottom to the liquid surface.

    ``edges_mm`` has one more entry than ``volumes_mm3``; ``areas_mm2`` are the areas at the
    edges (the first is the bottom, where nothing flows).
    """

    edges_mm: FloatArray
    volumes_mm3: FloatArray
    areas_mm2: FloatArray

    @property
    def size(self) -> int:
        return int(self.volumes_mm3.size)

    @property
    def centres_mm(self) -> FloatArray:
        return np.asarray(0.5 * (self.edges_mm[1:] + self.edges_mm[:-1]), dtype=np.float64)


@functools.lru_cache(maxsize=4096)
def height_of_volume_mm(tube: Tube, volume_ml: float) -> float:
    """``tube.height_of_volume_mm(volume_ml)``, remembered (a bisection, asked again and again)."""
    return tube.height_of_volume_mm(volume_ml)


def make_grid(tube: Tube, volume_ml: float, cell_mm: float) -> Grid:
    """Cells of about ``cell_mm`` height from the bottom to the surface of ``volume_ml`` of liquid."""
    if cell_mm <= 0:
        raise ValueError("the cell height must be positive")
    height = height_of_volume_mm(tube, volume_ml)
    n = max(4, math.ceil(height / cell_mm))
    edges = np.linspace(0.0, height, n + 1)
    below = tube.volume_below_mm3(edges)
    volumes = np.diff(below)
    return Grid(edges_mm=edges, volumes_mm3=np.asarray(volumes, dtype=np.float64), areas_mm2=tube.area_mm2(edges))


# Example tubes. Nominal sizes; the inner dimensions are assumptions (about 1 mm wall), not measurements.
TUBE_13X100_ROUND = Tube("13 x 100 mm round-bottom tube (nominal)", 11.0, 95.0, "round")
TUBE_16X100_ROUND = Tube("16 x 100 mm round-bottom tube (nominal)", 14.0, 95.0, "round")
TUBE_15ML_CONICAL = Tube("15 mL conical centrifuge tube (nominal)", 14.5, 117.0, "conical", cone_height_mm=22.0)
EXAMPLE_TUBES: tuple[Tube, ...] = (TUBE_13X100_ROUND, TUBE_16X100_ROUND, TUBE_15ML_CONICAL)
