"""Java calls read the way BFCL's ``java_parser.py`` reads them (see :mod:`lfmgym.eval.bfcl_source`)."""

from __future__ import annotations

from typing import Any

from lfmgym.eval.bfcl_source_core import Node, ParseError, Parser, add_argument

__all__ = ["parse_java_call"]


_PRIMITIVE = {"int", "long", "short", "byte", "char", "boolean", "float", "double", "void"}
_JAVA_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", ">>>="}


class _Java(Parser):
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
            raise ParseError("a short call without ';' (tree-sitter reads it as an error)")
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
        raise ParseError(f"expected ';' after a statement, got {self.tok.text!r}")

    def local_declaration(self) -> Node | None:
        save = self.i
        try:
            t = self.type_()
            if self.tok.kind != "ident" or self.peek().text not in ("=", ";", ","):
                raise ParseError("not a declaration")
        except ParseError:
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
                    raise ParseError("expected a name")
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
                raise ParseError("unclosed block")
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
                raise ParseError("only initializer blocks are read in an anonymous class body")
        kids.append(self.take())
        return self.node("class_body", kids)

    def array_initializer(self) -> Node:
        kids = [self.expect("{")]
        while not self.at("}"):
            kids.append(self.variable_initializer())
            if self.at(","):
                kids.append(self.take())
            elif not self.at("}"):
                raise ParseError("expected ',' or '}' in an array initializer")
        kids.append(self.take())
        return self.node("array_initializer", kids)

    # types
    def type_(self, allow_diamond: bool = False) -> Node:
        if self.tok.kind != "ident":
            raise ParseError("expected a type")
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
                raise ParseError("diamond outside a creation")
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
            if self.arrow_after_group("->", "(", ")") is None:
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
        except ParseError:
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
            raise ParseError(f"unexpected {t.text!r}")
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
            raise ParseError("a type is not an expression")
        self.take()
        ident = Node("identifier", t.start, t.end)
        if self.at("("):
            args = self.args()
            return self.node("method_invocation", [ident, args], name=ident, object=None, arguments=args)
        return ident

    def creation(self) -> Node:
        new = self.take()
        if self.tok.kind != "ident":
            raise ParseError("expected a type after new")
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
                raise ParseError("an array creation needs a size or an initializer")
            return self.node("array_creation_expression", kids, type=ty, value=value)
        if not self.at("("):
            raise ParseError("expected '(' after new T")
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
                    raise ParseError("qualified creation is not read")
                self.take()
                name = Node("identifier", name_tok.start, name_tok.end)
                if self.at("("):
                    args = self.args()
                    e = self.node("method_invocation", [e, dot, name, args], name=name, object=e, arguments=args)
                else:
                    e = self.node("field_access", [e, dot, name])
            elif self.at("."):
                raise ParseError("expected a name after '.'")
            elif self.at("["):
                e = self.node("array_access", [e, self.take(), self.expression(), self.expect("]")])
            elif self.at("++", "--"):
                e = self.node("update_expression", [e, self.take()])
            elif self.at("::"):
                sep = self.take()
                if self.tok.kind != "ident":
                    raise ParseError("expected a method name after '::'")
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
    except ParseError as exc:
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
        add_argument(args, key, value)
    return [{name: args}]


def _first(node: Node, type_: str) -> Node | None:
    if node.type == type_:
        return node
    for child in node.children:
        found = _first(child, type_)
        if found is not None:
            return found
    return None
