"""The calculator tool: exact results, and refusal (fast, as an error string) of anything unsafe."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym.envs.math.calculator import MAX_EXPRESSION_CHARS, calculator, evaluate, format_number


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("12+345", "357"),
        ("12 + 345", "357"),
        ("12*(3+4)", "84"),
        ("2+3*4", "14"),
        ("-3**2", "-9"),
        ("(-3)**2", "9"),
        ("--5", "5"),
        ("2**-3", "0.125"),
        ("7/4", "1.75"),
        ("-7/8", "-0.875"),
        ("10/2", "5"),
        ("10//3", "3"),
        ("-7//2", "-4"),
        ("-7%3", "2"),
        ("7.5%2", "1.5"),
        ("0.1+0.2", "0.3"),
        (".5*4", "2"),
        ("2.5e-3", "0.0025"),
        ("1e3", "1000"),
        ("1/3", "1/3 ≈ 0.3333333333"),
        ("3/4+1/6", "11/12 ≈ 0.9166666667"),
        ("-2/3", "-2/3 ≈ -0.6666666667"),
        ("1,000+2", "1002"),
        ("1,234,567*2", "2469134"),
        ("6×7", "42"),
        ("84÷4", "21"),
        ("12+345=", "357"),
        ("1**100000000", "1"),
        ("(-1)**100000001", "-1"),
        ("0**99999999", "0"),
        ("(" * 150 + "1+2" + ")" * 150, "3"),  # parentheses add no depth to the tree
    ],
)
def test_exact_results(expression, expected):
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    "expression, message",
    [
        ("9**9**9", "too large"),
        ("10**10**10", "too large"),
        ("2**100000", "too large"),
        ("(10**999)*(10**999)*(10**999)*(10**999)*(10**999)", "too large"),
        ("99999999999999999999**99999", "too large"),
        ("1e5000", "too large"),
        ("1e999999999", "too large"),
        ("1e-999999999*2", "too large"),
        ("(2**3000)**2", "too large"),
        ("1/0", "division by zero"),
        ("5//0", "division by zero"),
        ("5%0", "division by zero"),
        ("0**-1", "division by zero"),
        ("2**0.5", "whole-number exponents"),
        ("2^10", "write **"),
        ("x+1", "unknown name 'x'"),
        ("pi*2", "unknown name 'pi'"),
        ("__import__('os').system('true')", "not supported"),
        ("abs(-1)", "function calls are not supported"),
        ("factorial(100000)", "function calls are not supported"),
        ("(1).__class__", "attributes are not supported"),
        ("'a'*10", "not a number"),
        ("[1, 2]", "not supported"),
        ("1 if 1 else 2", "not supported"),
        ("1 < 2", "not supported"),
        ("lambda: 1", "not supported"),
        ("True+1", "not a number"),
        ("1j", "not a number"),
        ("1 +", "invalid syntax"),
        ("", "empty expression"),
        ("1" + "+1" * (MAX_EXPRESSION_CHARS // 2), "too long"),
        ("(" * 240 + "1" + ")" * 240, "invalid syntax"),  # past the parser's nesting limit
        ("-" * 300 + "1", "nested too deeply"),
    ],
)
def test_refusals_are_error_strings(expression, message):
    out = calculator(expression)
    assert out.startswith("Error:"), out
    assert message in out


def test_huge_factorial_like_product_is_refused():
    # A product of many large factors: every multiplication checks the size before computing.
    factors = "*".join(["99999999999999999999999"] * 20)
    assert calculator(f"({factors})**50").startswith("Error: result too large")
    chain = "(" * 30 + "99999" + "**9)" * 30
    assert calculator(chain).startswith("Error: result too large")


def test_non_string_input_is_an_error_not_an_exception():
    assert calculator(None).startswith("Error:")  # type: ignore[arg-type]
    assert calculator(12).startswith("Error:")  # type: ignore[arg-type]


def test_float_literals_are_exact_not_binary():
    assert evaluate("0.1*3") == Fraction(3, 10)
    assert evaluate("1.005*1000") == Fraction(1005)


def test_format_number_rounding():
    assert format_number(Fraction(2, 3)) == "2/3 ≈ 0.6666666667"
    assert format_number(Fraction(22 * 10**20, 7)).endswith("≈ 3.142857143e20")
    assert format_number(Fraction(1, 7_000_000)).endswith("≈ 1.428571429e-7")
    assert format_number(Fraction(123456789, 1000)) == "123456.789"
    assert format_number(Fraction(-5, 1)) == "-5"


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(-10**12, 10**12),
    b=st.integers(-10**12, 10**12),
    op=st.sampled_from(["+", "-", "*", "/", "//", "%"]),
)
def test_matches_exact_rational_arithmetic(a, b, op):
    expr = f"({a}){op}({b})"
    fa, fb = Fraction(a), Fraction(b)
    if b == 0 and op in ("/", "//", "%"):
        assert calculator(expr) == "Error: division by zero"
        return
    ops = {"+": Fraction.__add__, "-": Fraction.__sub__, "*": Fraction.__mul__, "/": Fraction.__truediv__,
           "//": Fraction.__floordiv__, "%": Fraction.__mod__}
    expected = ops[op](fa, fb)
    assert evaluate(expr) == expected
    assert calculator(expr) == format_number(expected)
