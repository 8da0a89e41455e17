"""JavaScript calls read the way BFCL's ``js_parser.py`` reads them (see :mod:`lfmgym.eval.bfcl_source`)."""

from __future__ import annotations

from typing import Any

from lfmgym.eval.bfcl_source_core import Node, ParseError, Parser, add_argument

__all__ = ["parse_js_call"]


_JS_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>=", ">>>=", "??=", "&&=", "||="}


class _JS(Parser):
    lang = "javascript"
    LEVELS = [("??",), ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!=", "===", "!=="),
              ("<", ">", "<=", ">=", "instanceof", "in"), ("<<", ">>", ">>>"), ("+", "-"), ("*", "/", "%"), ("**",)]

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.tok.kind == "op" and self.tok.text in self.LEVELS[level] or \
                (self.tok.kind == "ident" and self.tok.text in self.LEVELS[level]):
            op = self.take()
            right = self.binary(level + 1)
            left = self.node("binary_expression" if op.type != "instanceof" else "instanceof_expression",
                             [left, op, right])
        return left

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
                raise ParseError(f"unexpected {self.tok.text!r} after a statement")
            stmts.append(self.node("expression_statement", kids))
        return Node("program", 0, self.offsets[-1], stmts)

    def block(self) -> Node:
        # Function bodies and blocks: balanced braces, read loosely.
        return self.balanced("{", "}", "statement_block", "unclosed block")

    def balanced(self, open_: str, close: str, type_: str, unclosed: str) -> Node:
        """The tokens from ``open_`` to its matching ``close``, unparsed, as one ``type_`` node."""
        kids = [self.expect(open_)]
        depth = 1
        while depth:
            if self.tok.kind == "eof":
                raise ParseError(unclosed)
            depth += self.at(open_)
            depth -= self.at(close)
            kids.append(self.take())
        return self.node(type_, kids)

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
            j = self.arrow_after_group("=>", "([{", ")]}")
            if j is None:
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
                    raise ParseError("expected ',' or ']' in an array")
            kids.append(self.take())
            return self.node("array", kids)
        if self.at("{"):
            return self.object_()
        if t.kind != "ident":
            raise ParseError(f"unexpected {t.text!r}")
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
        return self.balanced("(", ")", "formal_parameters", "unclosed parameters")

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
                    raise ParseError("expected a property")
                if self.at(":"):
                    kids.append(self.node("pair", [key, self.take(), self.expression()]))
                elif self.at("("):
                    kids.append(self.node("method_definition", [key, self.args_as_params(), self.block()]))
                elif key.type == "ident" and (self.at(",", "}")):
                    kids.append(key)
                else:
                    raise ParseError("expected ':' in an object")
            if self.at(","):
                kids.append(self.take())
            elif not self.at("}"):
                raise ParseError("expected ',' or '}' in an object")
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
                    raise ParseError("expected a property name")
                e = self.node("member_expression", [e, dot, self.take()])
            elif self.at("."):
                raise ParseError("expected a property name after '.'")
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
    except ParseError as exc:
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
                add_argument(args, key, value)
            return [{text(sub.children[0]): args}]
    return None
