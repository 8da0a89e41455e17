"""Java and JavaScript argument values as BFCL writes them, read into Python values.

BFCL's Java/JavaScript categories give arguments as source text (``new int[]{1, 2}``,
``Map.of("a", 1)``, ``[1, "x"]``, ``{k: 2}``). The tool-call AST matcher converts such text with
:func:`java_value` / :func:`js_value` before comparing it with the accepted values, and the BFCL
eval splits a predicted Java/JS call into its arguments with :func:`split_top_level`.
"""

from __future__ import annotations

import re
from typing import Any

JAVA_TYPES: dict[str, type] = {
    "byte": int, "short": int, "integer": int, "long": int,
    "float": float, "double": float, "boolean": bool, "char": str,
    "Array": list, "ArrayList": list, "Set": list, "Queue": list, "Stack": list,
    "HashMap": dict, "Hashtable": dict, "String": str, "any": str,
}
JS_TYPES: dict[str, type] = {
    "String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
    "dict": dict, "array": list, "any": str,
}

# Generic type arguments (``List<String, Integer>``): their commas separate nothing at top level.
_GENERIC = re.compile(r"(?<=[\w$])\s*<[\w\s,.?\[\]<>]*>")


def _code_chars(s: str):
    """``(index, char, depth)`` for each character of ``s`` outside quotes and generic type
    arguments; ``depth`` is the bracket depth around it (an opening bracket sees the depth
    outside it, a closing one the depth after it, -1 when it closes a bracket opened before
    ``s``). The scan ends with ``(len(s), "", depth)``, or ``(len(s), "'", depth)``
    when a quote is left open."""
    generic_end = {m.start(): m.end() for m in _GENERIC.finditer(s)}
    depth, quote, i = 0, None, 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif i in generic_end and s[i:generic_end[i]].lstrip().startswith("<"):
            i = generic_end[i]
            continue
        elif c in "\"'`":
            quote = c
        else:
            depth += c in "([{"
            depth -= c in ")]}"
            yield i, c, depth - (c in "([{")
        i += 1
    yield len(s), quote or "", depth


def split_top_level(s: str, sep: str = ",", *, strict: bool = False) -> list[str]:
    """Split ``s`` on ``sep`` outside quotes, brackets and generic type arguments.

    ``strict``: the parts exactly as written (empty ones too), and ``ValueError`` on unbalanced
    quotes or brackets (decoding a model's call). Otherwise the parts stripped, empty ones
    dropped, and unbalanced text split as far as it goes (reading a value leniently).
    """
    parts, start = [], 0
    for i, c, depth in _code_chars(s):
        if i == len(s):
            if strict and (c or depth):
                raise ValueError("unbalanced quotes or brackets")
        elif c in ")]}" and depth < 0 and strict:
            raise ValueError(f"unbalanced {c!r}")
        elif c == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    if strict:
        return parts
    return [p.strip() for p in parts if p.strip()]


def closing_bracket(s: str) -> int | None:
    """Index of the bracket that closes one already open before ``s`` (e.g. the ``)`` of a
    call, given the text after its ``(``), outside quotes; ``None`` when there is none."""
    return next((i for i, c, depth in _code_chars(s) if c in ")]}" and depth < 0), None)


def unquote(s: str, quotes: str = "\"'") -> str | None:
    """The body of ``s`` when ``s`` is exactly one string literal (``"a"``), else ``None``;
    ``"x" + "y"`` starts and ends with a quote but is an expression, not a literal."""
    if len(s) < 2 or s[0] not in quotes:
        return None
    i = 1
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == s[0]:
            return s[1:-1] if i == len(s) - 1 else None
        i += 1
    return None


def _java_literal(s: str) -> Any:
    s = s.strip()
    if s in ("true", "false"):
        return s == "true"
    q = unquote(s)
    if q is not None:
        return q
    if re.fullmatch(r"-?\d+[lL]", s):
        return int(s[:-1])
    if re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fFdD]", s):
        return float(s[:-1])
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if re.fullmatch(r"-?\d+\.\d*([eE][+-]?\d+)?|-?\d+[eE][+-]?\d+", s):
        return float(s)
    return s  # a variable or expression: kept as written


def java_value(s: str, t: str, item_t: str | None = None) -> Any:
    s = s.strip()
    if t in ("byte", "short", "integer"):
        return int(s) if re.fullmatch(r"-?\d+", s) else s
    if t == "long":
        return int(s[:-1]) if re.fullmatch(r"-?\d+[lL]", s) else s
    if t == "float":
        return float(s[:-1]) if re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]", s) else s
    if t == "double":
        return float(s) if re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", s) else s
    if t == "boolean":
        return s == "true" if s in ("true", "false") else s
    if t in ("Array", "ArrayList", "Set", "Queue", "Stack"):
        return _java_list(s, item_t)
    if t in ("HashMap", "Hashtable"):
        return _java_map(s)
    return s  # String, char, any: the text itself


def _java_item(e: str, item_t: str | None) -> Any:
    if item_t in ("String", "char"):
        q = unquote(e.strip())
        return q if q is not None else e.strip()
    if item_t in ("any", None) or item_t not in JAVA_TYPES:
        return _java_literal(e)  # untyped items: read each literal for what it is
    return java_value(e, item_t)


def _java_list(s: str, item_t: str | None) -> Any:
    patterns = [
        r"new\s+[\w.<>, ]+\s*\[\s*\]\s*\{(?P<body>.*)\}",  # new int[]{1, 2}
        r"new\s+\w+\s*<[^>]*>\s*\(\s*(?:Arrays\.asList|List\.of)\s*\((?P<body>.*)\)\s*\)",
        r"(?:Arrays\.asList|List\.of|Set\.of)\s*\((?P<body>.*)\)",
        r"\{(?P<body>.*)\}",  # an array initializer
    ]
    for pat in patterns:
        m = re.fullmatch(pat, s, re.S)
        if m:
            return [_java_item(e, item_t) for e in split_top_level(m.group("body"))]
    m = re.fullmatch(r"new\s+\w+\s*<[^>]*>\s*\(\s*\)\s*\{\{(?P<body>.*)\}\}", s, re.S)
    if m:  # double-brace initialization with add(...)
        items = [re.fullmatch(r"add\((.*)\)", stmt, re.S) for stmt in split_top_level(m.group("body"), ";")]
        return [_java_item(a.group(1), item_t) for a in items if a]
    if re.fullmatch(r"new\s+\w+\s*<[^>]*>\s*\(\s*\)", s):
        return []
    return s


# Wrappers that keep a map's entries: read the map inside.
_MAP_WRAPPER = re.compile(r"(?:java\.util\.)?(?:Collections\.(?:unmodifiableMap|synchronizedMap)|Map\.copyOf"
                          r"|new\s+(?:Hash|LinkedHash|Tree)Map\s*<[^>]*>)\s*\((?P<inner>.+)\)", re.S)


def _java_map(s: str) -> Any:
    wrapped = _MAP_WRAPPER.fullmatch(s.strip())
    if wrapped and closing_bracket(wrapped.group("inner") + ")") == len(wrapped.group("inner")):
        inner = _java_map(wrapped.group("inner").strip())
        if isinstance(inner, dict):
            return inner
    m = re.fullmatch(r"new\s+\w+\s*<[^>]*>\s*\(\s*\)\s*\{\s*\{?(?P<body>.*?)\}?\s*\}", s, re.S)
    if m:
        out = {}
        for stmt in split_top_level(m.group("body"), ";"):
            put = re.fullmatch(r'put\(\s*"([^"]*)"\s*,(.*)\)', stmt, re.S)
            if put:
                out[put.group(1)] = _java_literal(put.group(2))
        return out
    m = re.fullmatch(r"Map\.of\s*\((?P<body>.*)\)", s, re.S)
    if m:
        items = split_top_level(m.group("body"))
        if len(items) % 2 == 0:
            return {_java_literal(items[i]): _java_literal(items[i + 1]) for i in range(0, len(items), 2)}
    if re.fullmatch(r"new\s+\w+\s*<[^>]*>\s*\(\s*\)", s):
        return {}
    return s


def _js_literal(s: str) -> Any:
    s = s.strip()
    if s in ("true", "false"):
        return s == "true"
    q = unquote(s, "\"'`")
    if q is not None:
        return q
    if s.startswith("[") or s.startswith("new Array("):
        return _js_array(s, None)
    if s.startswith("{"):
        return _js_object(s)
    if re.fullmatch(r"-?\d+n", s):
        return int(s[:-1])
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if re.fullmatch(r"-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", s):
        return float(s)
    return s


def js_value(s: str, t: str, item_t: str | None = None) -> Any:
    s = s.strip()
    if t == "String":
        q = unquote(s, "\"'`")
        return q if q is not None else s
    if t == "integer":
        return int(s) if re.fullmatch(r"-?\d+", s) else s
    if t == "float":
        return float(s) if re.fullmatch(r"-?\d+(\.\d+)?", s) else s
    if t == "Bigint":
        return int(s[:-1]) if re.fullmatch(r"-?\d+n", s) else s
    if t == "Boolean":
        return s == "true" if s in ("true", "false") else s
    if t == "array":
        return _js_array(s, item_t)
    if t == "dict":
        return _js_object(s)
    return s  # any


def _js_array(s: str, item_t: str | None) -> Any:
    m = re.fullmatch(r"\[(?P<body>.*)\]|new\s+Array\((?P<body2>.*)\)", s, re.S)
    if not m:
        return s
    body = m.group("body") if m.group("body") is not None else m.group("body2")
    out = []
    for e in split_top_level(body):
        if item_t in JS_TYPES and item_t not in ("any", "dict", "array"):
            q = unquote(e, "\"'`")
            out.append(q if q is not None and item_t == "String" else js_value(e, item_t))
        else:
            out.append(_js_literal(e))
    return out


def _js_object(s: str) -> Any:
    m = re.fullmatch(r"\{(?P<body>.*)\}", s.strip(), re.S)
    if not m:
        return s
    out = {}
    for pair in split_top_level(m.group("body")):
        kv = split_top_level(pair, ":")
        if len(kv) < 2:
            return s
        key = kv[0].strip()
        key = unquote(key, "\"'`") or key
        out[key] = _js_literal(":".join(kv[1:]))
    return out
