"""Filler for BFCL's ``multi_turn_long_context`` category.

In that category every suite is loaded with a lot of extra, irrelevant content (files padded
with text, directories with many extra files, long watch lists, transaction histories, booking
records, car metadata) so the model has to find what matters in long tool outputs. BFCL ships
fixed filler tables. The file system uses BFCL's (its ground truths act on the padding files and
use counts of the padded text, see :data:`BFCL_FILE_PADDING`); the other suites' filler is
lfmgym's own, generated deterministically from fixed seeds (no ground truth reads a value from it:
``benchmarks/bench_bfcl_multi_turn_agreement.py --fidelity`` lists every ground-truth call whose
result differs from BFCL's). The checker runs the model's calls and the ground truth through the
same filler.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

__all__ = ["FILES_READ_AT_THE_END", "file_padding", "padding_files", "watch_list_padding", "moving_average_padding",
           "order_metadata", "transaction_padding", "sector_padding", "credit_card_padding", "booking_padding",
           "car_metadata", "intermediary_cities", "weather_report", "parking_brake_manual"]

# Files whose last lines the long-context questions ask about (``tail``): they are not padded,
# so their end stays what the question expects.
FILES_READ_AT_THE_END = ("log.txt", "report.txt", "report.csv", "DataSet1.csv", "file1.txt", "finance_report.txt",
                         "config.py", "Q4_summary.doc", "file3.txt")

_WORDS = ("system", "update", "record", "status", "pending", "archive", "note", "review", "batch", "cache",
          "sync", "entry", "draft", "index", "backup", "metric", "report", "queue", "token", "session")


def _rng(tag: str) -> random.Random:
    return random.Random(f"lfmgym-bfcl-long-context-{tag}")


def _sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def _code(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(size))


# The file-system filler is BFCL's own (``bfcl_eval`` 2026.3.23, ``func_source_code/long_context.py``,
# Apache-2.0, see lfmgym/data/bfcl/LICENSE): the ground truths depend on it (they ``rm`` the padding
# images by name, and use counts such as ``wc -c`` of a padded file as arguments of later calls),
# so other filler would make entries unsolvable or their mistakes invisible.
BFCL_FILE_PADDING = (
    "The company's financials for the year reflect a period of steady growth and consistent revenue "
    'generation, with both top-line and bottom-line figures showing improvement compared to the previous '
    'year. Total revenue increased at a modest pace, driven primarily by strong performance in the '
    'company’s core markets. Despite some fluctuations in demand, the business maintained healthy '
    'margins, with cost controls and efficiency measures helping to offset any increase in operational '
    'expenses. As a result, gross profit grew at a stable rate, keeping in line with management’s '
    'expectations. The company’s operating income saw an uptick, indicating that the firm was able to '
    'manage its administrative and selling expenses effectively, while also benefiting from a more '
    'streamlined supply chain. This contributed to a higher operating margin, suggesting that the '
    'company’s core operations were becoming more efficient and profitable. Net income also rose, '
    'bolstered by favorable tax conditions and reduced interest expenses due to a restructuring of '
    'long-term debt. The company managed to reduce its financial leverage, leading to an improvement in '
    'its interest coverage ratio. On the balance sheet, the company maintained a solid financial '
    'position, with total assets increasing year over year. The growth in assets was largely due to '
    'strategic investments in new technology and facilities, aimed at expanding production capacity and '
    'improving operational efficiency. Cash reserves remained robust, supported by positive cash flow '
    'from operations. The company also reduced its short-term liabilities, improving its liquidity '
    'ratios, and signaling a stronger ability to meet near-term obligations.Shareholders’ equity grew as '
    'a result of retained earnings, reflecting the company’s profitability and its strategy of '
    'reinvesting profits back into the business rather than paying out large dividends. The company '
    'maintained a conservative approach to debt, with its debt-to-equity ratio remaining within industry '
    'norms, which reassured investors about the company’s long-term solvency and risk management '
    'practices. The cash flow statement highlighted the company’s ability to generate cash from its core '
    "operations, which remained a strong indicator of the business's health. Cash from operating "
    'activities was sufficient to cover both investing and financing needs, allowing the company to '
    'continue its capital expenditure plans without increasing its reliance on external financing. The '
    'company’s investment activities included expanding its production facilities and acquiring new '
    'technology to improve future productivity and efficiency. Meanwhile, the company’s financing '
    'activities reflected a balanced approach, with some debt repayments and a modest issuance of new '
    "equity, allowing for flexible capital management.Overall, the company's financials indicate a "
    'well-managed business with a clear focus on sustainable growth. Profitability remains strong, '
    'operational efficiency is improving, and the company’s balance sheet reflects a stable, low-risk '
    'financial structure. The management’s strategy of cautious expansion, combined with a disciplined '
    'approach to debt and investment, has positioned the company well for future growth and '
    'profitability.'
)
BFCL_PADDING_FILES = (
    'image_344822349461074042.jpg', 'image_8219547643081662353.jpg', 'image_5421509146842474663.jpg',
    'image_185391401034246046.jpg', 'image_6824007961180780019.jpg', 'image_2994974694593273051.jpg',
    'image_2537728455072851196.jpg', 'image_2164918946836800275.jpg', 'image_1745133864906284051.jpg',
    'image_7707563551789432679.jpg', 'image_8190489168166590809.jpg', 'image_2385660725381355820.jpg',
    'image_4771211633166048374.jpg', 'image_3443718094055823214.jpg', 'image_6838087561356843690.jpg',
    'image_605952633285970710.jpg', 'image_6341510244180179744.jpg', 'image_4119241148692325954.jpg',
    'image_5651066601163181955.jpg', 'image_3747091333751395055.jpg', 'image_4623743619379194431.jpg',
    'image_5072742684386583099.jpg', 'image_1978458056362464778.jpg', 'image_3090346927968358019.jpg',
    'image_7193806748674265039.jpg', 'image_7169516574395086720.jpg', 'image_8618240224293913315.jpg',
    'image_5514683852355062444.jpg', 'image_8749630317332649147.jpg', 'image_1912245706439755759.jpg',
)


def file_padding() -> str:
    """Text appended, on the same line and without a separator, to every file not in
    :data:`FILES_READ_AT_THE_END` (BFCL's filler)."""
    return BFCL_FILE_PADDING


def padding_files() -> tuple[str, ...]:
    """Names of the empty files added to every innermost directory (BFCL's, in its order)."""
    return BFCL_PADDING_FILES


@lru_cache(maxsize=None)
def watch_list_padding() -> tuple[str, ...]:
    rng = _rng("watch")
    return tuple(_code(rng, rng.randint(1, 5)) for _ in range(500))


@lru_cache(maxsize=None)
def moving_average_padding(window: int) -> tuple[float, ...]:
    rng = _rng(f"ma{window}")
    return tuple(round(rng.uniform(10, 3000), 2) for _ in range(300))


def order_metadata(symbol: str) -> dict[str, str]:
    rng = _rng("order")
    return {f"note_{i}": f"{symbol}: {_sentence(rng, 20)}" for i in range(20)}


@lru_cache(maxsize=None)
def transaction_padding() -> tuple[dict[str, Any], ...]:
    rng = _rng("transactions")
    return tuple({"type": rng.choice(("deposit", "withdrawal")), "amount": round(rng.uniform(100, 10000), 2),
                  "timestamp": f"202{rng.randint(3, 4)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                               f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"}
                 for _ in range(200))


@lru_cache(maxsize=None)
def sector_padding(sector: str) -> tuple[str, ...]:
    rng = _rng(f"sector-{sector}")
    return tuple(_code(rng, rng.randint(2, 4)) for _ in range(300))


def credit_card_padding() -> dict[str, dict[str, Any]]:
    rng = _rng("cards")
    cards = {}
    for _ in range(100):
        cards[str(rng.randint(100000000000, 999999999999))] = {
            "card_number": "".join(str(rng.randint(0, 9)) for _ in range(16)),
            "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(2025, 2032)}",
            "cardholder_name": f"{rng.choice(('Alex', 'Sam', 'Jordan', 'Taylor', 'Morgan'))} "
                               f"{rng.choice(('Lee', 'Kim', 'Smith', 'Garcia', 'Brown'))}",
            "card_verification_number": rng.randint(100, 999),
            "balance": float(rng.randint(1000, 99999)),
        }
    return cards


def booking_padding() -> dict[str, dict[str, Any]]:
    rng = _rng("bookings")
    airports = ("SFO", "LAX", "JFK", "ORD", "BOS", "RMS", "SBK", "MPC", "SVP", "SHD")
    records = {}
    for _ in range(100):
        src, dst = rng.sample(airports, 2)
        records[str(rng.randint(1000000, 9999999))] = {
            "card_id": str(rng.randint(100000000000, 999999999999)),
            "travel_date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "travel_from": src, "travel_to": dst,
            "travel_class": rng.choice(("economy", "business", "first")),
            "travel_cost": float(rng.randint(100, 3000)),
            "transaction_id": str(rng.randint(10000000, 99999999)),
        }
    return records


@lru_cache(maxsize=None)
def _car_metadata() -> tuple[tuple[str, str], ...]:
    rng = _rng("car")
    return tuple((f"section_{i}", " ".join(_sentence(rng, 12) for _ in range(5))) for i in range(40))


def car_metadata() -> dict[str, str]:
    return dict(_car_metadata())


@lru_cache(maxsize=None)
def intermediary_cities() -> tuple[str, ...]:
    rng = _rng("cities")
    first = ("Green", "River", "Stone", "Oak", "Pine", "Maple", "Silver", "Sun", "Shadow", "Cedar")
    second = ("ville", "port", "field", "dale", "wood", "ridge", "haven", " Springs", " Hills", " Valley")
    return tuple(rng.choice(first) + rng.choice(second) for _ in range(600))


def weather_report() -> dict[str, Any]:
    rng = _rng("weather")
    return {f"forecast_day_{i}": _sentence(rng, 15) for i in range(60)}


@lru_cache(maxsize=None)
def parking_brake_manual() -> str:
    rng = _rng("brake")
    return " ".join(_sentence(rng, 14) for _ in range(80))
