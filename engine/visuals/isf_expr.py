"""ISF pass sizes: WIDTH / HEIGHT are expressions of $WIDTH, $HEIGHT and $<input>.

A tiny, safe evaluator (parsed once, evaluated every frame): numbers, + - * / % ^,
parentheses, max/min/floor/ceil/round/abs/sqrt/pow, pi and e. Never Python's eval.
Division by zero gives 0: a size must stay a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|(\$?[A-Za-z_]\w*)|(.))")
_FUNCS: dict[str, Callable[..., float]] = {
    "max": max,
    "min": min,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "abs": abs,
    "sqrt": lambda x: math.sqrt(max(x, 0.0)),
    "pow": lambda x, y: math.pow(abs(x), y) if x < 0 else math.pow(x, y),
}
_ARITY = {"max": (2, 99), "min": (2, 99), "pow": (2, 2)}  # the others take one
_CONSTS = {"pi": math.pi, "e": math.e}


class Expr:
    """`$WIDTH/2.0`, `max(floor($HEIGHT*$scale), 1)`: numbers, + - * / % ^, parentheses,
    max/min/floor/ceil/round/abs/sqrt/pow, $WIDTH, $HEIGHT and $<input>. No Python eval."""

    def __init__(self, text: str, inputs: Collection[str] = ()) -> None:
        self.text = text
        self._tokens = [m for m in _TOKEN.findall(text) if any(m)]
        self._pos = 0
        self.tree = self._sum()
        if self._pos != len(self._tokens):
            raise ValueError(f"unexpected {self._peek() or 'end'!r}")
        for var in self._vars(self.tree):
            if var not in ("WIDTH", "HEIGHT") and var not in inputs:
                raise ValueError(f"${var} is not $WIDTH, $HEIGHT or a number input")

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __call__(self, env: dict[str, float]) -> float:
        return float(self._eval(self.tree, env))

    def _peek(self) -> str:
        if self._pos >= len(self._tokens):
            return ""
        return next(t for t in self._tokens[self._pos] if t)

    def _take(self, expected: str | None = None) -> str:
        tok = self._peek()
        if expected is not None and tok != expected:
            raise ValueError(f"expected {expected!r}, found {tok or 'the end'!r}")
        if not tok:
            raise ValueError("the expression ends too soon")
        self._pos += 1
        return tok

    def _sum(self) -> Any:
        node = self._product()
        while self._peek() in ("+", "-"):
            node = (self._take(), node, self._product())
        return node

    def _product(self) -> Any:
        node = self._unary()
        while self._peek() in ("*", "/", "%"):
            node = (self._take(), node, self._unary())
        return node

    def _unary(self) -> Any:
        if self._peek() in ("-", "+"):
            return ("neg" if self._take() == "-" else "pos", self._unary())
        node = self._atom()
        if self._peek() == "^":
            self._take()
            node = ("^", node, self._unary())
        return node

    def _atom(self) -> Any:
        tok = self._take()
        if tok == "(":
            node = self._sum()
            self._take(")")
            return node
        if tok[0].isdigit() or tok[0] == ".":
            return float(tok)
        if tok.startswith("$"):
            return ("var", tok[1:])
        if tok in _CONSTS:
            return _CONSTS[tok]
        if tok in _FUNCS:
            self._take("(")
            args = [self._sum()]
            while self._peek() == ",":
                self._take()
                args.append(self._sum())
            self._take(")")
            low, high = _ARITY.get(tok, (1, 1))
            if not low <= len(args) <= high:
                raise ValueError(f"{tok}() takes {low}..{high} arguments, not {len(args)}")
            return ("call", tok, *args)
        raise ValueError(f"unknown name {tok!r}")

    def _vars(self, node: Any) -> list[str]:
        if not isinstance(node, tuple):
            return []
        if node[0] == "var":
            return [node[1]]
        return [v for child in node[1:] for v in self._vars(child)]

    def _eval(self, node: Any, env: dict[str, float]) -> float:
        if not isinstance(node, tuple):
            return node
        op = node[0]
        if op == "var":
            return env.get(node[1], 0.0)
        args = [self._eval(n, env) for n in node[2 if op == "call" else 1 :]]
        if op == "call":
            return float(_FUNCS[node[1]](*args))
        if op in ("neg", "pos"):
            return -args[0] if op == "neg" else args[0]
        a, b = args
        if op in ("/", "%") and b == 0:
            return 0.0
        ops = {"+": a + b, "-": a - b, "*": a * b}
        if op in ops:
            return ops[op]
        return a / b if op == "/" else (math.fmod(a, b) if op == "%" else _FUNCS["pow"](a, b))
