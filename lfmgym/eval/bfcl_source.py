"""Java and JavaScript calls read the way BFCL's own decoders read them (official verdicts).

BFCL parses a prompting model's Java/JavaScript answer with tree-sitter and keeps the first call
(``bfcl_eval/model_handler/parser/java_parser.py`` and ``js_parser.py``). This module reproduces
what those decoders return without tree-sitter: a small recursive-descent parser builds the
syntax nodes tree-sitter would build for the expressions models write, and the values are then
rendered the way BFCL's traversal renders them. Their quirks are part of the verdict:

* any syntax error (tree-sitter's ``ERROR`` node) fails the whole output; a lone Java call of at
  most 10 bytes without a ``;`` is one (tree-sitter wraps it in ``ERROR`` instead of adding the
  missing ``;``), a longer one is not;
* Java: a string literal argument loses its quotes, one nested in an expression keeps them; an
  array creation is rewritten ``new T[]{a,b}`` (spaces dropped), an object creation
  ``new T<A,B>(args)`` *without* its anonymous class body (so the ``{{ put(...); }}`` of a
  double-brace ``HashMap`` is dropped), a method call or a name is kept as written; other
  expressions are their tokens joined without spaces. Text is cut at byte offsets of the UTF-8
  source but from the Python string, as BFCL does (non-ASCII text shifts the cut);
* JavaScript: each ``name=value`` argument is the value's source text, one pair of surrounding
  quotes removed; the first statement that is a call is the answer;
* an argument name given twice, or two positional names (``f(x, y)``), fails the decode.

:func:`parse_java_call` and :func:`parse_js_call` return BFCL's decoded form
``[{name: {param: text}}]`` (or ``{}``/``None`` when no call is found) and raise ``SyntaxError``
where BFCL's decoder raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["parse_java_call", "parse_js_call"]


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


_KEYWORDS = {"instanceof", "new", "return", "class", "extends", "super", "this", "true", "false", "null", "typeof",
             "void", "delete", "await", "in", "function", "async"}


class _Error(Exception):
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


def _tokenize(src: str, lang: str) -> tuple[list[Tok], list[int]]:
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
                raise _Error("unterminated comment")
            line += src.count("\n", i, j)
            i = j + 2
            continue
        start = i
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = number.match(src, i)
            i = m.end()
            if i < n and (src[i].isalnum() or src[i] in "_$"):
                raise _Error("bad number")
            kind = "number"
        elif c in "\"'" or (c == "`" and lang == "javascript"):
            if lang == "java" and src.startswith('"""', i):
                j = src.find('"""', i + 3)
                if j < 0:
                    raise _Error("unterminated text block")
                i = j + 3
            else:
                i = _skip_string(src, i, lang)
            kind = {"'": "char" if lang == "java" else "string", '"': "string", "`": "template"}[c]
            if kind == "char" and not re.fullmatch(r"'(?:[^'\\\n]|\\(?:u+[0-9a-fA-F]{4}|[0-7]{1,3}|.))'", src[start:i]):
                raise _Error("bad character literal")
        elif _IDENT.match(src, i):
            i = _IDENT.match(src, i).end()
            kind = "ident"
        else:
            op = next((o for o in _OPS if src.startswith(o, i)), None)
            if op is None or (lang == "java" and op in ("?.", "??", "??=", "**", "**=", "=>", "===", "!==", "...",
                                                          "&&=", "||=")):
                if op in ("===", "!==") or op is None:
                    raise _Error(f"unexpected character {c!r}")
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
            raise _Error("newline in a string")
        if ch == quote and depth == 0:
            return j + 1
        j += 1
    raise _Error("unterminated string")


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
    raise _Error("unterminated template substitution")


# --------------------------------------------------------------------------- a shared parser core


class _Parser:
    lang = ""

    def __init__(self, src: str):
        self.src = src
        self.toks, self.offsets = _tokenize(src, self.lang)
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
            raise _Error("unexpected end")
        self.i += 1
        return Node(t.text if t.kind == "op" or t.text in _KEYWORDS else t.kind, t.start, t.end)

    def expect(self, text: str) -> Node:
        if not self.at(text):
            raise _Error(f"expected {text!r}, got {self.tok.text!r}")
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

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.tok.kind == "op" and self.tok.text in self.LEVELS[level] or \
                (self.tok.kind == "ident" and self.tok.text in self.LEVELS[level]):
            op = self.take()
            if op.type == "instanceof" and self.lang == "java":
                right = self.type_()
            else:
                right = self.binary(level + 1)
            left = self.node("binary_expression" if op.type != "instanceof" else "instanceof_expression",
                             [left, op, right])
        return left


# --------------------------------------------------------------------------- Java

_PRIMITIVE = {"int", "long", "short", "byte", "char", "boolean", "float", "double", "void"}
_JAVA_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", ">>>="}


class _Java(_Parser):
    lang = "java"
    LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">=", "instanceof"),
              ("<<", ">>", ">>>"), ("+", "-"), ("*", "/", "%")]

    def program(self) -> Node:
        stmts: list[Node] = []
        missing_semicolon = False
        while self.tok.kind != "eof":
            if self.at(";"):
                self.take()
                continue
            stmt, missing_semicolon = self.statement(top=True)
            stmts.append(stmt)
        if missing_semicolon and len(stmts) == 1 and stmts[0].end - stmts[0].start <= 10:
            raise _Error("a short call without ';' (tree-sitter reads it as an error)")
        return Node("program", 0, self.offsets[-1], stmts)

    def statement(self, top: bool = False) -> tuple[Node, bool]:
        """A statement; the flag says it ended without its ``;`` (allowed at the end of the input)."""
        if self.at("{"):
            return self.block(), False
        if self.at("return"):
            kids = [self.take()]
            if not self.at(";"):
                kids.append(self.expression())
            kids.append(self.expect(";"))
            return self.node("return_statement", kids), False
        decl = self.local_declaration()
        if decl is not None:
            return decl, False
        expr = self.expression()
        if self.at(";"):
            return self.node("expression_statement", [expr, self.take()]), False
        if top and self.tok.kind == "eof" or not top and self.at("}"):
            # tree-sitter adds the missing ';' (no ERROR) at the end of the input or of a block
            return self.node("expression_statement", [expr]), True
        raise _Error(f"expected ';' after a statement, got {self.tok.text!r}")

    def local_declaration(self) -> Node | None:
        save = self.i
        try:
            t = self.type_()
            if self.tok.kind != "ident" or self.peek().text not in ("=", ";", ","):
                raise _Error("not a declaration")
        except _Error:
            self.i = save
            return None
        kids = [t]
        while True:
            name = self.take()
            parts = [name]
            if self.at("="):
                parts += [self.take(), self.variable_initializer()]
            kids.append(self.node("variable_declarator", parts))
            if self.at(","):
                kids.append(self.take())
                if self.tok.kind != "ident":
                    raise _Error("expected a name")
                continue
            break
        kids.append(self.expect(";"))
        return self.node("local_variable_declaration", kids)

    def variable_initializer(self) -> Node:
        return self.array_initializer() if self.at("{") else self.expression()

    def block(self) -> Node:
        kids = [self.expect("{")]
        while not self.at("}"):
            if self.tok.kind == "eof":
                raise _Error("unclosed block")
            if self.at(";"):
                kids.append(self.take())
                continue
            kids.append(self.statement()[0])
        kids.append(self.take())
        return self.node("block", kids)

    def class_body(self) -> Node:
        kids = [self.expect("{")]
        while not self.at("}"):
            if self.at("{"):
                kids.append(self.block())
            elif self.at(";"):
                kids.append(self.take())
            else:
                raise _Error("only initializer blocks are read in an anonymous class body")
        kids.append(self.take())
        return self.node("class_body", kids)

    def array_initializer(self) -> Node:
        kids = [self.expect("{")]
        while not self.at("}"):
            kids.append(self.variable_initializer())
            if self.at(","):
                kids.append(self.take())
            elif not self.at("}"):
                raise _Error("expected ',' or '}' in an array initializer")
        kids.append(self.take())
        return self.node("array_initializer", kids)

    # types
    def type_(self, allow_diamond: bool = False) -> Node:
        if self.tok.kind != "ident":
            raise _Error("expected a type")
        t = self._primitive() if self.tok.text in _PRIMITIVE else self.class_type(allow_diamond)
        return self.dims(t)

    def class_type(self, allow_diamond: bool) -> Node:
        t = Node("type_identifier", self.tok.start, self.tok.end)
        self.take()
        t = self.type_arguments(t, allow_diamond)
        while self.at(".") and self.peek().kind == "ident" and self.peek().text not in ("class", "new", "this"):
            dot = self.take()
            name = Node("type_identifier", self.tok.start, self.tok.end)
            self.take()
            t = self.type_arguments(self.node("scoped_type_identifier", [t, dot, name]), allow_diamond)
        return t

    def type_arguments(self, t: Node, allow_diamond: bool) -> Node:
        if not self.at("<"):
            return t
        kids = [self.take()]
        if self.at(">"):
            if not allow_diamond:
                raise _Error("diamond outside a creation")
            kids.append(self.take())
            return self.node("generic_type", [t, self.node("type_arguments", kids)])
        while True:
            if self.at("?"):
                w = [self.take()]
                if self.at("extends", "super"):
                    w += [self.take(), self.type_()]
                kids.append(self.node("wildcard", w))
            else:
                kids.append(self.type_())
            if self.at(","):
                kids.append(self.take())
                continue
            break
        kids.append(self.expect(">"))
        return self.node("generic_type", [t, self.node("type_arguments", kids)])

    def dims(self, t: Node) -> Node:
        while self.at("[") and self.peek().text == "]":
            d = [self.take(), self.take()]
            t = self.node("array_type", [t, self.node("dimensions", d)])
        return t

    # expressions
    def expression(self) -> Node:
        lam = self.lambda_()
        if lam is not None:
            return lam
        left = self.ternary()
        if self.tok.kind == "op" and self.tok.text in _JAVA_ASSIGN:
            op = self.take()
            right = self.expression()
            return self.node("assignment_expression", [left, op, right])
        return left

    def lambda_(self) -> Node | None:
        if self.tok.kind == "ident" and self.peek().text == "->":
            params = Node("identifier", self.tok.start, self.tok.end)
            self.take()
        elif self.at("("):
            j, depth = self.i, 0
            while True:  # find the matching ')' and look for '->' after it
                t = self.toks[j]
                if t.kind == "eof":
                    return None
                depth += t.text == "(" and t.kind == "op"
                depth -= t.text == ")" and t.kind == "op"
                j += 1
                if depth == 0:
                    break
            if self.toks[j].text != "->":
                return None
            kids = [self.take()]
            while not self.at(")"):
                kids.append(self.take())
            kids.append(self.take())
            params = self.node("formal_parameters", kids)
        else:
            return None
        arrow = self.expect("->")
        body = self.block() if self.at("{") else self.expression()
        return self.node("lambda_expression", [params, arrow, body])

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.at("?"):
            q = self.take()
            a = self.expression()
            c = self.expect(":")
            b = self.expression()
            return self.node("ternary_expression", [cond, q, a, c, b])
        return cond

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            ops = self.LEVELS[level]
            t = self.tok
            if ">>" in ops and self.at(">") and self.peek().text == ">" and self.peek().start == t.end:
                # '>' tokens are kept apart for generics; adjacent ones are a shift here
                first = self.take()
                second = self.take()
                kids = [first, second]
                if self.at(">") and self.tok.start == second.end:
                    kids.append(self.take())
                op = Node(">>", first.start, kids[-1].end, kids)
            elif (t.kind == "op" or t.text == "instanceof") and t.text in ops:
                if t.text == ">" and self.peek().text == ">" and self.peek().start == t.end:
                    break  # a shift, handled at its own level
                op = self.take()
            else:
                break
            right = self.type_() if op.type == "instanceof" else self.binary(level + 1)
            left = self.node("instanceof_expression" if op.type == "instanceof" else "binary_expression",
                             [left, op, right])
        return left

    def unary(self) -> Node:
        if self.at("+", "-", "!", "~"):
            op = self.take()
            return self.node("unary_expression", [op, self.unary()])
        if self.at("++", "--"):
            op = self.take()
            return self.node("update_expression", [op, self.unary()])
        cast = self.cast()
        if cast is not None:
            return cast
        return self.postfix(self.primary())

    def cast(self) -> Node | None:
        if not self.at("("):
            return None
        save = self.i
        open_ = self.take()
        try:
            t = self.type_()
            close = self.expect(")")
        except _Error:
            self.i = save
            return None
        primitive = t.type in ("integral_type", "floating_point_type", "boolean_type") or (
            t.type == "array_type")
        nxt = self.tok
        starts_operand = nxt.kind in ("ident", "number", "string", "char") or nxt.text in ("(", "!", "~")
        if primitive and (starts_operand or nxt.text in ("+", "-")) or (not primitive and starts_operand and
                                                                           nxt.text not in ("instanceof",)):
            value = self.unary()
            return self.node("cast_expression", [open_, t, close, value])
        self.i = save
        return None

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.take()
            return Node("decimal_integer_literal", t.start, t.end)
        if t.kind == "string":
            self.take()
            return Node("string_literal", t.start, t.end)
        if t.kind == "char":
            self.take()
            return Node("character_literal", t.start, t.end)
        if self.at("("):
            kids = [self.take(), self.expression(), self.expect(")")]
            return self.node("parenthesized_expression", kids)
        if t.kind != "ident":
            raise _Error(f"unexpected {t.text!r}")
        if t.text == "new":
            return self.creation()
        if t.text in ("true", "false", "null", "this", "super"):
            self.take()
            return Node({"null": "null_literal"}.get(t.text, t.text), t.start, t.end)
        if t.text in _PRIMITIVE:  # int.class, int[].class
            ty = self.type_()
            if self.at(".") and self.peek().text == "class":
                kids = [ty, self.take(), self.take()]
                return self.node("class_literal", kids)
            raise _Error("a type is not an expression")
        self.take()
        ident = Node("identifier", t.start, t.end)
        if self.at("("):
            args = self.args()
            return self.node("method_invocation", [ident, args], name=ident, object=None, arguments=args)
        return ident

    def creation(self) -> Node:
        new = self.take()
        if self.tok.kind != "ident":
            raise _Error("expected a type after new")
        ty = self._primitive() if self.tok.text in _PRIMITIVE else self.class_type(allow_diamond=True)
        if self.at("["):
            kids: list[Node] = [new, ty]
            dim_kids: list[Node] = []
            while self.at("["):
                if self.peek().text == "]":
                    dim_kids += [self.take(), self.take()]
                else:
                    dim_kids.append(self.node("dimensions_expr", [self.take(), self.expression(), self.expect("]")]))
            kids.append(self.node("dimensions", dim_kids))
            value = None
            if self.at("{"):
                value = self.array_initializer()
                kids.append(value)
            elif all(k.type in ("[", "]") for k in dim_kids):
                raise _Error("an array creation needs a size or an initializer")
            return self.node("array_creation_expression", kids, type=ty, value=value)
        if not self.at("("):
            raise _Error("expected '(' after new T")
        args = self.args()
        kids = [new, ty, args]
        if self.at("{"):
            kids.append(self.class_body())
        return self.node("object_creation_expression", kids, type=ty, arguments=args)

    def _primitive(self) -> Node:
        text = self.tok.text
        tok = self.take()
        return self.node("floating_point_type" if text in ("float", "double") else
                         "boolean_type" if text == "boolean" else "integral_type", [tok])

    def postfix(self, e: Node) -> Node:
        while True:
            if self.at(".") and self.peek().kind == "ident":
                dot = self.take()
                name_tok = self.tok
                if name_tok.text == "class":
                    self.take()
                    e = Node("class_literal", e.start, name_tok.end, [e, dot, Node("class", name_tok.start, name_tok.end)])
                    continue
                if name_tok.text == "new":
                    raise _Error("qualified creation is not read")
                self.take()
                name = Node("identifier", name_tok.start, name_tok.end)
                if self.at("("):
                    args = self.args()
                    e = self.node("method_invocation", [e, dot, name, args], name=name, object=e, arguments=args)
                else:
                    e = self.node("field_access", [e, dot, name])
            elif self.at("."):
                raise _Error("expected a name after '.'")
            elif self.at("["):
                e = self.node("array_access", [e, self.take(), self.expression(), self.expect("]")])
            elif self.at("++", "--"):
                e = self.node("update_expression", [e, self.take()])
            elif self.at("::"):
                sep = self.take()
                if self.tok.kind != "ident":
                    raise _Error("expected a method name after '::'")
                e = self.node("method_reference", [e, sep, self.take()])
            else:
                return e


def _java_text(src: str, node: Node) -> str:
    # BFCL slices the *string* with tree-sitter's *byte* offsets.
    return src[node.start:node.end]


def _java_value(src: str, node: Node | None, nested: bool = False) -> str:
    """BFCL's ``traverse_node``: the text it makes of one argument value."""
    if node is None:
        raise AttributeError("'NoneType' object has no attribute 'type'")
    t = node.type
    if t in ("string_literal", "character_literal"):
        text = _java_text(src, node)
        return text if nested else text[1:-1]
    if t in ("identifier", "class_literal", "type_identifier", "method_invocation"):
        return _java_text(src, node)
    if t == "array_creation_expression":
        return f"new {_java_value(src, node.fields['type'], True)}[]{_java_value(src, node.fields['value'], True)}"
    if t == "object_creation_expression":
        args = [c for c in node.fields["arguments"].children if c.type not in (",", "(", ")")]
        return f"new {_java_value(src, node.fields['type'], True)}({', '.join(_java_value(src, a, True) for a in args)})"
    if node.children:
        return "".join(_java_value(src, c, True) for c in node.children)
    return _java_text(src, node)


def parse_java_call(source: str) -> Any:
    """BFCL's ``parse_java_function_call``: ``[{name: {param: text}}]``, or ``{}`` without a call."""
    try:
        tree = _Java(source).program()
    except _Error as exc:
        raise SyntaxError(f"Error parsing java the source code ({exc}).") from None
    call = _first(tree, "method_invocation")
    if call is None:
        return {}
    name = _java_text(source, call.fields["name"])
    if call.fields["object"] is not None:
        name = f"{_java_text(source, call.fields['object'])}.{name}"
    args: dict[Any, Any] = {}
    for child in call.fields["arguments"].children:
        if child.type == "assignment_expression":
            key, value = _java_text(source, child.children[0]), _java_value(source, child.children[2])
        elif child.type in ("identifier", "class_literal"):
            key, value = None, _java_value(source, child)
        else:
            continue
        if key in args:
            raise ValueError("Error: Multiple arguments with the same name are not supported.")
        args[key] = value
    return [{name: args}]


def _first(node: Node, type_: str) -> Node | None:
    if node.type == type_:
        return node
    for child in node.children:
        found = _first(child, type_)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- JavaScript

_JS_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>=", ">>>=", "??=", "&&=", "||="}


class _JS(_Parser):
    lang = "javascript"
    LEVELS = [("??",), ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!=", "===", "!=="),
              ("<", ">", "<=", ">=", "instanceof", "in"), ("<<", ">>", ">>>"), ("+", "-"), ("*", "/", "%"), ("**",)]

    def program(self) -> Node:
        stmts = []
        while self.tok.kind != "eof":
            if self.at(";"):
                self.take()
                continue
            if self.at("{"):
                stmts.append(self.block())
                continue
            expr = self.sequence()
            kids = [expr]
            if self.at(";"):
                kids.append(self.take())
            elif self.tok.kind != "eof" and not self.at("}") and self.tok.line == self.toks[self.i - 1].line:
                raise _Error(f"unexpected {self.tok.text!r} after a statement")
            stmts.append(self.node("expression_statement", kids))
        return Node("program", 0, self.offsets[-1], stmts)

    def block(self) -> Node:
        # Function bodies and blocks: balanced braces, read loosely.
        kids = [self.expect("{")]
        depth = 1
        while depth:
            if self.tok.kind == "eof":
                raise _Error("unclosed block")
            depth += self.at("{")
            depth -= self.at("}")
            kids.append(self.take())
        return self.node("statement_block", kids)

    def sequence(self) -> Node:
        e = self.expression()
        if self.at(","):
            kids = [e]
            while self.at(","):
                kids += [self.take(), self.expression()]
            return self.node("sequence_expression", kids)
        return e

    def argument(self) -> Node:
        if self.at("..."):
            return self.node("spread_element", [self.take(), self.expression()])
        return self.expression()

    def expression(self) -> Node:
        arrow = self.arrow()
        if arrow is not None:
            return arrow
        left = self.ternary()
        if self.tok.kind == "op" and self.tok.text in _JS_ASSIGN:
            op = self.take()
            right = self.expression()
            kind = "assignment_expression" if op.type == "=" else "augmented_assignment_expression"
            return self.node(kind, [left, op, right])
        return left

    def arrow(self) -> Node | None:
        start = self.i
        if self.at("async") and self.peek().kind == "ident" and self.peek().text != "function":
            self.i += 1
        if self.tok.kind == "ident" and self.peek().text == "=>":
            params = Node("identifier", self.tok.start, self.tok.end)
            self.take()
        elif self.at("("):
            j, depth = self.i, 0
            while True:
                t = self.toks[j]
                if t.kind == "eof":
                    self.i = start
                    return None
                depth += t.kind == "op" and t.text in "([{"
                depth -= t.kind == "op" and t.text in ")]}"
                j += 1
                if depth == 0:
                    break
            if self.toks[j].text != "=>":
                self.i = start
                return None
            kids = []
            while self.i < j:
                kids.append(self.take())
            params = self.node("formal_parameters", kids)
        else:
            self.i = start
            return None
        arrow = self.expect("=>")
        body = self.block() if self.at("{") else self.expression()
        return self.node("arrow_function", [params, arrow, body])

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.at("?"):
            q = self.take()
            a = self.expression()
            c = self.expect(":")
            b = self.expression()
            return self.node("ternary_expression", [cond, q, a, c, b])
        return cond

    def unary(self) -> Node:
        if self.at("+", "-", "!", "~", "typeof", "void", "delete", "await"):
            op = self.take()
            return self.node("unary_expression", [op, self.unary()])
        if self.at("++", "--"):
            op = self.take()
            return self.node("update_expression", [op, self.unary()])
        e = self.postfix(self.primary())
        if self.at("++", "--") and self.tok.line == self.toks[self.i - 1].line:
            e = self.node("update_expression", [e, self.take()])
        return e

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.take()
            return Node("number", t.start, t.end)
        if t.kind == "string":
            self.take()
            return Node("string", t.start, t.end)
        if t.kind == "template":
            self.take()
            return Node("template_string", t.start, t.end)
        if self.at("("):
            return self.node("parenthesized_expression", [self.take(), self.sequence(), self.expect(")")])
        if self.at("["):
            kids = [self.take()]
            while not self.at("]"):
                if self.at(","):
                    kids.append(self.take())
                    continue
                kids.append(self.argument())
                if not self.at(",", "]"):
                    raise _Error("expected ',' or ']' in an array")
            kids.append(self.take())
            return self.node("array", kids)
        if self.at("{"):
            return self.object_()
        if t.kind != "ident":
            raise _Error(f"unexpected {t.text!r}")
        if t.text == "new":
            new = self.take()
            callee = self.postfix(self.primary(), allow_call=False)
            kids = [new, callee]
            if self.at("("):
                kids.append(self.args())
            return self.node("new_expression", kids)
        if t.text == "function":
            kids = [self.take()]
            if self.tok.kind == "ident":
                kids.append(self.take())
            kids += [self.args_as_params(), self.block()]
            return self.node("function_expression", kids)
        if t.text in ("true", "false", "null", "undefined", "this"):
            self.take()
            return Node(t.text if t.text != "undefined" else "undefined", t.start, t.end)
        self.take()
        return Node("identifier", t.start, t.end)

    def args_as_params(self) -> Node:
        kids = [self.expect("(")]
        depth = 1
        while depth:
            if self.tok.kind == "eof":
                raise _Error("unclosed parameters")
            depth += self.at("(")
            depth -= self.at(")")
            kids.append(self.take())
        return self.node("formal_parameters", kids)

    def object_(self) -> Node:
        kids = [self.expect("{")]
        while not self.at("}"):
            if self.at("..."):
                kids.append(self.node("spread_element", [self.take(), self.expression()]))
            else:
                if self.at("["):
                    key = self.node("computed_property_name", [self.take(), self.expression(), self.expect("]")])
                elif self.tok.kind in ("ident", "string", "number"):
                    key = self.take()
                else:
                    raise _Error("expected a property")
                if self.at(":"):
                    kids.append(self.node("pair", [key, self.take(), self.expression()]))
                elif self.at("("):
                    kids.append(self.node("method_definition", [key, self.args_as_params(), self.block()]))
                elif key.type == "ident" and (self.at(",", "}")):
                    kids.append(key)
                else:
                    raise _Error("expected ':' in an object")
            if self.at(","):
                kids.append(self.take())
            elif not self.at("}"):
                raise _Error("expected ',' or '}' in an object")
        kids.append(self.take())
        return self.node("object", kids)

    def postfix(self, e: Node, allow_call: bool = True) -> Node:
        while True:
            if self.at(".", "?.") and (self.peek().kind == "ident" or self.at("?.")):
                dot = self.take()
                if dot.type == "?." and self.at("("):
                    e = self.node("call_expression", [e, dot, self.args()])
                    continue
                if dot.type == "?." and self.at("["):
                    e = self.node("subscript_expression", [e, dot, self.take(), self.sequence(), self.expect("]")])
                    continue
                if self.tok.kind != "ident":
                    raise _Error("expected a property name")
                e = self.node("member_expression", [e, dot, self.take()])
            elif self.at("."):
                raise _Error("expected a property name after '.'")
            elif self.at("["):
                e = self.node("subscript_expression", [e, self.take(), self.sequence(), self.expect("]")])
            elif self.at("(") and allow_call:
                e = self.node("call_expression", [e, self.args()])
            elif self.tok.kind == "template":
                e = self.node("call_expression", [e, self.take()])
            else:
                return e


def parse_js_call(source: str) -> Any:
    """BFCL's ``parse_javascript_function_call``: ``[{name: {param: text}}]``, or ``None``."""
    try:
        tree = _JS(source).program()
    except _Error as exc:
        raise SyntaxError(f"Error js parsing the source code ({exc}).") from None
    raw = source.encode("utf-8", "surrogatepass")

    def text(n: Node) -> str:
        return raw[n.start:n.end].decode("utf-8", "surrogatepass")

    for stmt in tree.children:
        if stmt.type != "expression_statement":
            continue
        for sub in stmt.children:
            if sub.type != "call_expression":
                continue
            args: dict[Any, Any] = {}
            for child in sub.children[1].children:
                if child.type == "assignment_expression":
                    key, value = text(child.children[0]), text(child.children[2])
                    if (value.startswith('"') and value.endswith('"')) or (value.startswith("'") and value.endswith("'")):
                        value = value[1:-1]
                elif child.type in ("identifier", "true"):
                    key, value = None, text(child)
                else:
                    continue
                if key in args:
                    raise ValueError("Error: Multiple arguments with the same name are not supported.")
                args[key] = value
            return [{text(sub.children[0]): args}]
    return None
