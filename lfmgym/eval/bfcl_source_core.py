"""The part of the BFCL Java / JavaScript readers both languages share: syntax nodes, the
tokenizer (byte offsets, as tree-sitter counts them) and the recursive-descent parser core.

See :mod:`lfmgym.eval.bfcl_source` for what the readers reproduce and why;
:mod:`~lfmgym.eval.bfcl_source_java` and :mod:`~lfmgym.eval.bfcl_source_js` hold each language's
grammar and the way BFCL renders its values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Node", "Tok", "KEYWORDS", "ParseError", "tokenize", "Parser", "add_argument"]


@dataclass
class Node:
    """A syntax node: ``type`` as tree-sitter names it, a byte span, children (tokens included)."""

    type: str
    start: int
    end: int
    children: list[Node] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tok:
    kind: str  # ident, number, string, char, template, op, eof
    text: str
    start: int  # byte offsets
    end: int
    line: int


KEYWORDS = {"instanceof", "new", "return", "class", "extends", "super", "this", "true", "false", "null", "typeof",
             "void", "delete", "await", "in", "function", "async"}


class ParseError(Exception):
    """A syntax error: tree-sitter would put an ERROR node in the tree."""


_JAVA_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+[lL]?|0[bB][01_]+[lL]?"
    r"|(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[fFdD]?"
    r"|\d[\d_]*(?:[eE][+-]?\d+[fFdD]?|[fFdDlL])?")
_JS_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+n?|0[bB][01_]+n?|0[oO][0-7_]+n?"
    r"|(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?|\d[\d_]*(?:[eE][+-]?\d+|n)?")
_OPS = sorted(""">>>= <<= >>= >>> ... ?.  ?? ??= **= ** -> :: ++ -- && || == != <= >= += -= *= /= %= &= |= ^= << =>
=== !== &&= ||= ( ) [ ] { } ; , . @ = > < ! ~ ? : + - * / & | ^ %""".split(), key=len, reverse=True)
_IDENT = re.compile(r"[^\W\d][\w$]*|\$[\w$]*")


def tokenize(src: str, lang: str) -> tuple[list[Tok], list[int]]:
    """Tokens with byte offsets; ``offsets[i]`` = byte offset of character ``i``."""
    offsets = [0] * (len(src) + 1)
    for i, ch in enumerate(src):
        offsets[i + 1] = offsets[i] + len(ch.encode("utf-8", "surrogatepass"))
    toks: list[Tok] = []
    i, line, n = 0, 0, len(src)
    number = _JAVA_NUMBER if lang == "java" else _JS_NUMBER
    while i < n:
        c = src[i]
        if c in " \t\r\f\v\n":
            line += c == "\n"
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise ParseError("unterminated comment")
            line += src.count("\n", i, j)
            i = j + 2
            continue
        start = i
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = number.match(src, i)
            i = m.end()
            if i < n and (src[i].isalnum() or src[i] in "_$"):
                raise ParseError("bad number")
            kind = "number"
        elif c in "\"'" or (c == "`" and lang == "javascript"):
            if lang == "java" and src.startswith('"""', i):
                j = src.find('"""', i + 3)
                if j < 0:
                    raise ParseError("unterminated text block")
                i = j + 3
            else:
                i = _skip_string(src, i, lang)
            kind = {"'": "char" if lang == "java" else "string", '"': "string", "`": "template"}[c]
            if kind == "char" and not re.fullmatch(r"'(?:[^'\\\n]|\\(?:u+[0-9a-fA-F]{4}|[0-7]{1,3}|.))'", src[start:i]):
                raise ParseError("bad character literal")
        elif _IDENT.match(src, i):
            i = _IDENT.match(src, i).end()
            kind = "ident"
        else:
            op = next((o for o in _OPS if src.startswith(o, i)), None)
            if op is None or (lang == "java" and op in ("?.", "??", "??=", "**", "**=", "=>", "===", "!==", "...",
                                                          "&&=", "||=")):
                if op in ("===", "!==") or op is None:
                    raise ParseError(f"unexpected character {c!r}")
                op = op[0] if op != "..." else "."
            if lang == "java" and op.startswith(">>"):
                op = ">"  # kept apart for generics (List<List<T>>); the parser joins shifts
            i += len(op)
            kind = "op"
        toks.append(Tok(kind, src[start:i], offsets[start], offsets[i], line))
        line += src.count("\n", start, i)
    toks.append(Tok("eof", "", offsets[n], offsets[n], line))
    return toks, offsets


def _skip_string(src: str, i: int, lang: str) -> int:
    quote, j, depth = src[i], i + 1, 0
    while j < len(src):
        ch = src[j]
        if ch == "\\":
            j += 2
            continue
        if quote == "`":
            if src.startswith("${", j):
                j = _skip_balanced(src, j + 1, lang)
                continue
        elif ch == "\n":
            raise ParseError("newline in a string")
        if ch == quote and depth == 0:
            return j + 1
        j += 1
    raise ParseError("unterminated string")


def _skip_balanced(src: str, j: int, lang: str) -> int:
    """Index after the brace that closes the ``{`` at ``j`` (template substitutions)."""
    depth = 0
    while j < len(src):
        ch = src[j]
        if ch in "\"'`":
            j = _skip_string(src, j, lang)
            continue
        depth += ch == "{"
        depth -= ch == "}"
        j += 1
        if depth == 0:
            return j
    raise ParseError("unterminated template substitution")


# --------------------------------------------------------------------------- the shared parser core


class Parser:
    """The token cursor and the rules Java and JavaScript read alike. A language's subclass sets
    ``lang`` and ``LEVELS`` (binary operators, loosest first) and gives ``program``,
    ``expression``, ``binary``, ``unary``, ``primary`` and ``postfix``."""

    lang = ""

    def __init__(self, src: str):
        self.src = src
        self.toks, self.offsets = tokenize(src, self.lang)
        self.i = 0

    # token helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "ident") and self.tok.text in texts

    def take(self) -> Node:
        t = self.tok
        if t.kind == "eof":
            raise ParseError("unexpected end")
        self.i += 1
        return Node(t.text if t.kind == "op" or t.text in KEYWORDS else t.kind, t.start, t.end)

    def expect(self, text: str) -> Node:
        if not self.at(text):
            raise ParseError(f"expected {text!r}, got {self.tok.text!r}")
        return self.take()

    def node(self, type_: str, children: list[Node], **fields: Any) -> Node:
        return Node(type_, children[0].start, children[-1].end, children, fields)

    def args(self) -> Node:
        kids = [self.expect("(")]
        if not self.at(")"):
            while True:
                kids.append(self.argument())
                if self.at(","):
                    kids.append(self.take())
                    continue
                break
        kids.append(self.expect(")"))
        return self.node("argument_list" if self.lang == "java" else "arguments", kids)

    def argument(self) -> Node:
        return self.expression()

    def arrow_after_group(self, arrow: str, opens: str, closes: str) -> int | None:
        """The index of the ``arrow`` token right after the bracket group that opens at the
        current token (``(a, b) -> ...`` in Java, ``(a, b) => ...`` in JavaScript), or ``None``
        when no arrow follows it; ``opens``/``closes`` are the brackets counted for nesting.
        Reads ahead only: the position does not move."""
        j, depth = self.i, 0
        while True:  # find the matching close bracket and look for the arrow after it
            t = self.toks[j]
            if t.kind == "eof":
                return None
            depth += t.kind == "op" and t.text in opens
            depth -= t.kind == "op" and t.text in closes
            j += 1
            if depth == 0:
                break
        return j if self.toks[j].text == arrow else None

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.at("?"):
            q = self.take()
            a = self.expression()
            c = self.expect(":")
            b = self.expression()
            return self.node("ternary_expression", [cond, q, a, c, b])
        return cond


def add_argument(args: dict[Any, Any], key: Any, value: str) -> None:
    """Record one decoded argument; a name given twice fails the decode, as in BFCL."""
    if key in args:
        raise ValueError("Error: Multiple arguments with the same name are not supported.")
    args[key] = value
