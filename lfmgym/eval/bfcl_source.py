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
where BFCL's decoder raises. Each language has its module (:mod:`~lfmgym.eval.bfcl_source_java`,
:mod:`~lfmgym.eval.bfcl_source_js`) over one shared tokenizer and parser core
(:mod:`~lfmgym.eval.bfcl_source_core`).
"""

from __future__ import annotations

from lfmgym.eval.bfcl_source_java import parse_java_call
from lfmgym.eval.bfcl_source_js import parse_js_call

__all__ = ["parse_java_call", "parse_js_call"]
