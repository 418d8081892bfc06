"""The shape of a stored fit (``fitted.py`` is generated in this shape by ``fit.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from prpclinic.planner.parameters import ModelParameters, Numerics


@dataclass(frozen=True, slots=True)
class RowFit:
    """One published number against the model: fitted on all rows, and fitted without its row.

    ``loo_parameters`` are the fitted parameters (``FITTED_NAMES`` order) when the row was left
    out, and ``loo`` the prediction they give for it.
    """

    id: str
    reported: float
    sigma: float
    fitted: float
    loo: float
    loo_parameters: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Band:
    """The model's range for a reported number whose settings are unknown (not fitted)."""

    id: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class FitRecord:
    """A fit, with the date, the data and the method, so the docs table can be checked against it."""

    date: str
    data: tuple[str, ...]
    method: str
    parameters: ModelParameters
    numerics: Numerics
    chi_square: float
    rows: tuple[RowFit, ...]
    bands: tuple[Band, ...]
    hematocrit_band: tuple[tuple[str, float, float], ...]
