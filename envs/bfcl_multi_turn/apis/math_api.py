"""``MathAPI``: stateless arithmetic and statistics (BFCL's math suite)."""

from __future__ import annotations

import math
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["MathAPI"]

_METERS = {"km": 1000, "m": 1, "cm": 0.01, "mm": 0.001, "um": 1e-06, "nm": 1e-09}
_IMPERIAL = {"cm_to_in": 0.393701, "in_to_cm": 2.54, "m_to_ft": 3.28084, "ft_to_m": 0.3048, "m_to_yd": 1.09361,
             "yd_to_m": 0.9144, "km_to_miles": 0.621371, "miles_to_km": 1.60934, "kg_to_lb": 2.20462,
             "lb_to_kg": 0.453592, "celsius_to_fahrenheit": 1.8, "fahrenheit_to_celsius": 5 / 9}


def _numbers_op(numbers: list, empty: str, op) -> dict[str, Any]:
    if not numbers:
        return {"error": empty}
    try:
        return {"result": op(numbers)}
    except TypeError:
        return {"error": "All elements in the list must be numbers"}


class _Shown:
    """A number shown as BFCL shows it. BFCL sets ``mpmath.mp.dps = precision`` for good (a global)
    and renders the result afterwards, so ``logarithm(20, 10, 2)`` reads ``mpf('1.3027')``; lfmgym
    leaves mpmath's global precision alone and keeps the text rendered at the call's precision."""

    def __init__(self, value: Any, text: str) -> None:
        self.value, self.text = value, text

    def __repr__(self) -> str:
        return self.text

    def __float__(self) -> float:
        return float(self.value)

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, _Shown) else other)

    def __hash__(self) -> int:
        return hash(self.value)


class MathAPI(Suite):
    name = "MathAPI"
    doc_file = "math_api.json"
    stateless = True

    def logarithm(self, value: float, base: float, precision: int) -> dict[str, Any]:
        import mpmath

        try:
            with mpmath.workdps(precision):
                result = mpmath.log(value) / mpmath.log(base)
                return {"result": _Shown(result, repr(result))}
        except Exception as exc:  # BFCL reports any failure (bad precision, log of 0, ...) as an error result
            return {"error": str(exc)}

    def mean(self, numbers: list[float]) -> dict[str, Any]:
        return _numbers_op(numbers, "Cannot calculate mean of an empty list", lambda xs: sum(xs) / len(xs))

    def standard_deviation(self, numbers: list[float]) -> dict[str, Any]:
        def std(xs):
            mu = sum(xs) / len(xs)
            return math.sqrt(sum((x - mu) ** 2 for x in xs) / len(xs))

        return _numbers_op(numbers, "Cannot calculate standard deviation of an empty list", std)

    def si_unit_conversion(self, value: float, unit_in: str, unit_out: str) -> dict[str, Any]:
        if not isinstance(value, (int, float)):
            return {"error": "Value must be a number"}
        if unit_in not in _METERS or unit_out not in _METERS:
            return {"error": f"Conversion from '{unit_in}' to '{unit_out}' is not supported"}
        try:
            return {"result": value * _METERS[unit_in] * (1 / _METERS[unit_out])}
        except OverflowError:
            return {"error": "Conversion resulted in a value too large to represent"}

    def imperial_si_conversion(self, value: float, unit_in: str, unit_out: str) -> dict[str, Any]:
        if not isinstance(value, (int, float)):
            return {"error": "Value must be a number"}
        if unit_in == unit_out:
            return {"result": value}
        key = f"{unit_in}_to_{unit_out}"
        if key not in _IMPERIAL:
            return {"error": f"Conversion from '{unit_in}' to '{unit_out}' is not supported"}
        try:
            if key == "celsius_to_fahrenheit":
                return {"result": value * _IMPERIAL[key] + 32}
            if key == "fahrenheit_to_celsius":
                return {"result": (value - 32) * _IMPERIAL[key]}
            return {"result": value * _IMPERIAL[key]}
        except OverflowError:
            return {"error": "Conversion resulted in a value too large to represent"}

    def add(self, a: float, b: float) -> dict[str, Any]:
        try:
            return {"result": a + b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def subtract(self, a: float, b: float) -> dict[str, Any]:
        try:
            return {"result": a - b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def multiply(self, a: float, b: float) -> dict[str, Any]:
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return {"error": "Both inputs must be numbers"}
        return {"result": a * b}

    def divide(self, a: float, b: float) -> dict[str, Any]:
        try:
            if b == 0:
                return {"error": "Cannot divide by zero"}
            return {"result": a / b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def power(self, base: float, exponent: float) -> dict[str, Any]:
        try:
            return {"result": base**exponent}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def square_root(self, number: float, precision: int) -> dict[str, Any]:
        try:
            if number < 0:
                return {"error": "Cannot calculate square root of a negative number"}
            return {"result": Context(prec=precision).sqrt(Decimal(number))}
        except (TypeError, InvalidOperation):
            return {"error": "Input must be a number or computation resulted in an invalid operation"}

    def absolute_value(self, number: float) -> dict[str, Any]:
        try:
            return {"result": abs(number)}
        except TypeError:
            return {"error": "Input must be a number"}

    def round_number(self, number: float, decimal_places: int = 0) -> dict[str, Any]:
        try:
            return {"result": round(number, decimal_places)}
        except TypeError:
            return {"error": "First input must be a number, second input must be an integer"}

    def percentage(self, part: float, whole: float) -> dict[str, Any]:
        try:
            if whole == 0:
                return {"error": "Whole value cannot be zero"}
            return {"result": part / whole * 100}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def min_value(self, numbers: list[float]) -> dict[str, Any]:
        return _numbers_op(numbers, "Cannot find minimum of an empty list", min)

    def max_value(self, numbers: list[float]) -> dict[str, Any]:
        return _numbers_op(numbers, "Cannot find maximum of an empty list", max)

    def sum_values(self, numbers: list[float]) -> dict[str, Any]:
        return _numbers_op(numbers, "Cannot calculate sum of an empty list", sum)
