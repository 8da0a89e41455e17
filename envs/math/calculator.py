"""A safe, exact calculator tool: arithmetic parsed with :mod:`ast`, never ``eval``.

Numbers are exact rationals (:class:`fractions.Fraction`): ``0.1+0.2`` is ``0.3`` and ``7/3``
stays ``7/3``. Every operation checks the size of its result *before* computing it, so
``9**9**9`` or a chain of huge products returns an error string in microseconds instead of
hanging a rollout worker. Anything that is not a number, a parenthesis or one of
``+ - * / // % **`` (names, attributes, calls, strings, comparisons, ...) is rejected with a
message that says what to write instead.

Results are rendered for a small model to copy: integers as digits, terminating fractions as
exact decimals (``1.75``), others as the reduced fraction with a rounded decimal
(``11/12 ≈ 0.9166666667``).
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

__all__ = ["calculator", "evaluate", "format_number", "CalculatorError"]

MAX_EXPRESSION_CHARS = 500
MAX_DEPTH = 100  # nesting of the syntax tree; also keeps the recursive evaluator far from Python's limit
MAX_BITS = 4_000  # about 1,200 decimal digits for any numerator or denominator
MAX_EXPONENT = 10_000
MAX_DECIMAL_PLACES = 12  # a terminating decimal longer than this is shown as a fraction instead
SIGNIFICANT_DIGITS = 10

# "1,000" thousands separators are common in word problems; a calculator has no use for tuples,
# so a comma between a digit and exactly three digits can only mean a separator.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-"})


class CalculatorError(ValueError):
    """An expression the calculator refuses: the message is what the model gets to read."""


def _bits(q: Fraction) -> int:
    return max(q.numerator.bit_length(), q.denominator.bit_length())


def _check_size(q: Fraction) -> Fraction:
    if _bits(q) > MAX_BITS:
        raise CalculatorError("result too large")
    return q


def _power(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1:
        raise CalculatorError("only whole-number exponents are supported")
    e = exp.numerator
    if base == 0 and e < 0:
        raise CalculatorError("division by zero")
    if abs(base) == 1 or base == 0:  # 1**huge, (-1)**huge and 0**n are cheap and small
        return base**e
    if abs(e) > MAX_EXPONENT or _bits(base) * abs(e) > MAX_BITS + 64:
        raise CalculatorError("result too large")
    return _check_size(base**e)


def _binary(op: ast.operator, a: Fraction, b: Fraction) -> Fraction:
    if isinstance(op, ast.Add):
        return _check_size(a + b)
    if isinstance(op, ast.Sub):
        return _check_size(a - b)
    if isinstance(op, ast.Mult):
        if _bits(a) + _bits(b) > MAX_BITS + 64:
            raise CalculatorError("result too large")
        return _check_size(a * b)
    if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)):
        if b == 0:
            raise CalculatorError("division by zero")
        if isinstance(op, ast.Div):
            return _check_size(a / b)
        return _check_size(a // b if isinstance(op, ast.FloorDiv) else a % b)
    if isinstance(op, ast.Pow):
        return _power(a, b)
    if isinstance(op, ast.BitXor):
        raise CalculatorError("'^' is not a power here; write ** (e.g. 2**10)")
    symbol = {ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&"}
    raise CalculatorError(f"operator {symbol.get(type(op), type(op).__name__)!r} is not supported; use + - * / // % **")


class _Evaluator:
    """Walk the syntax tree of one expression; ``source`` gives float literals their exact text."""

    def __init__(self, source: str):
        self.source = source

    def number(self, node: ast.Constant) -> Fraction:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalculatorError(f"{value!r} is not a number")
        if isinstance(value, float):
            # The literal's text is exact ("0.1"), the float it parsed to is not.
            text = (ast.get_source_segment(self.source, node) or "").replace("_", "")
            exponent = text.lower().partition("e")[2]
            # Fraction("1e999999999") would build 10**999999999: refuse big exponents first.
            if exponent and abs(int(exponent)) > MAX_BITS // 3:
                raise CalculatorError("result too large")
            try:
                exact = Fraction(text)
            except (ValueError, ZeroDivisionError):
                raise CalculatorError(f"cannot read the number {text!r}") from None
            return _check_size(exact)
        return _check_size(Fraction(value))

    def value_of(self, node: ast.AST) -> Fraction:
        """The exact value of an arithmetic AST node; anything but numbers and operators is refused."""
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.BinOp):
            return _binary(node.op, self.value_of(node.left), self.value_of(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.value_of(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        allowed = "only numbers and + - * / // % ** ( ) are allowed"
        if isinstance(node, ast.Name):
            raise CalculatorError(f"unknown name {node.id!r}; {allowed}")
        if isinstance(node, ast.Call):
            raise CalculatorError(f"function calls are not supported; {allowed}")
        if isinstance(node, ast.Attribute):
            raise CalculatorError(f"attributes are not supported; {allowed}")
        raise CalculatorError(f"{type(node).__name__} is not supported; {allowed}")


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def evaluate(expression: str) -> Fraction:
    """Evaluate ``expression`` exactly.

    Raises:
        CalculatorError: with a short reason (syntax, unsupported element, size limit,
            division by zero).
    """
    if not isinstance(expression, str):
        raise CalculatorError("expression must be a string")
    text = _THOUSANDS.sub("", expression.translate(_SYMBOLS)).strip()
    if text.endswith("="):  # "12+345=" is a natural way to ask
        text = text[:-1].rstrip()
    if not text:
        raise CalculatorError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression too long ({len(text)} > {MAX_EXPRESSION_CHARS} characters)")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"invalid syntax: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise CalculatorError(f"cannot parse expression ({type(exc).__name__})") from None
    if _depth(tree) > MAX_DEPTH:
        raise CalculatorError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
    return _Evaluator(text).value_of(tree.body)


def format_number(q: Fraction) -> str:
    """Render an exact result: ``357``, ``1.75``, ``-0.125`` or ``11/12 ≈ 0.9166666667``."""
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    places = max(twos, fives)
    if d == 1 and places <= MAX_DECIMAL_PLACES:
        scaled = abs(q.numerator) * 10**places // q.denominator
        sign = "-" if q < 0 else ""
        whole, frac = divmod(scaled, 10**places)
        return f"{sign}{whole}.{str(frac).rjust(places, '0').rstrip('0')}"
    return f"{q.numerator}/{q.denominator} ≈ {_approx(q)}"


def _approx(q: Fraction) -> str:
    """``q`` rounded to :data:`SIGNIFICANT_DIGITS` significant digits, without float overflow;
    scientific notation outside 1e-6 .. 1e15, where plain digits would be misleading."""
    sign = "-" if q < 0 else ""
    q = abs(q)
    # exponent of the leading digit, from integer sizes (floats overflow past 1e308)
    exp10 = len(str(q.numerator)) - len(str(q.denominator))
    if Fraction(10) ** exp10 > q:
        exp10 -= 1
    shift = SIGNIFICANT_DIGITS - 1 - exp10
    scaled = round(q * Fraction(10) ** shift)
    if len(str(scaled)) > SIGNIFICANT_DIGITS:  # rounding carried into a new digit (9.99.. -> 10)
        exp10, shift, scaled = exp10 + 1, shift - 1, scaled // 10
    if not -6 <= exp10 < 15:
        digits = str(scaled).rstrip("0") or "0"
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{exp10}"
    if shift <= 0:
        return sign + str(scaled * 10 ** (-shift))
    digits = str(scaled).rjust(shift + 1, "0")
    whole, frac = digits[:-shift], digits[-shift:].rstrip("0")
    return sign + whole + ("." + frac if frac else "")


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly.

    Args:
        expression: numbers with + - * / // % ** and parentheses, e.g. '12*(3+4)'.
    """
    try:
        return format_number(evaluate(expression))
    except CalculatorError as exc:
        return f"Error: {exc}"
