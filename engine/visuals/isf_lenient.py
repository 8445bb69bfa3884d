"""Fix-ups for what lenient GLSL compilers let through, driven by the compiler's errors.

ISF hosts have long run on compilers (Apple's, NVIDIA's) that accept code a strict
GLSL 3.30 compiler (Mesa's) refuses: an int returned from a float function, an int
literal compared with or assigned to a float or a uint. Library files are written
against those hosts, and we don't edit them: :func:`fix` rewrites the one construct
that an error message names, on its line, and the caller compiles again. Every
rewrite keeps the file's line numbers and says what it did, so the caller can say so
once (see `IsfProgram`). Also mended: a `const` set from a non-constant expression,
`%` on floats, and names that GLSL 1.20 (the dialect ISF files are written in) leaves
free but GLSL 3.30 reserves (`smooth`, `flat`, `filter`, `active`, `common`...):
:func:`reserved_name` finds one, :func:`rename` renames it everywhere in a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_RETURN = re.compile(r"`return' with wrong type (\w+), in function `(\w+)' returning (\w+)")
_ASSIGN = re.compile(
    r"(?:initializer|value) of type (\w+) cannot be assigned to variable of type (\w+)"
)
_CONST = re.compile(r"initializer of const variable `(\w+)' must be a constant expression")
_MOD = re.compile(r"[LR]HS of operator % must be an integer")
_OPERAND = r"(\w+(?:\.\w+)*(?:\[[^\]]*\])?|\d+\.?\d*|\([^()]*\))"
_PERCENT = re.compile(rf"{_OPERAND}\s*%\s*{_OPERAND}")
_UINT_CALL = re.compile(r"no matching function for call to `\w+\([^)]*\bint\b")
_OPERANDS = re.compile(
    r"operands of `[=!]=' must have the same type|could not implicitly convert operands"
    r"|second and third operands of \?: operator must have matching types"
    r"|operands to relational operators must be scalar and numeric"
)
# a decimal integer literal standing alone (not part of a name, a float or a suffixed literal)
_INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
# identifiers in GLSL 1.20 (or let through by lenient compilers) that GLSL 3.30 keeps
# fmt: off
RESERVED = frozenset((
    "smooth", "flat", "noperspective", "layout", "sample", "patch", "subroutine", "precise",
    "active", "common", "partition", "filter", "superp", "input", "output", "half", "fixed",
    "resource", "buffer", "shared", "coherent", "volatile", "restrict", "readonly", "writeonly",
))
# fmt: on
_RESERVED_WORD = re.compile(r"illegal use of reserved word `(\w+)'|unexpected ([A-Z]+)(?:_TOK)?\b")
_CONSTRUCTIBLE = re.compile(r"(?:float|int|uint|bool|[biu]?vec[234]|mat[234](?:x[234])?)\Z")


def fix(code: str, line: int, message: str) -> tuple[str, str] | None:
    """(the code with one construct on `line` rewritten, what was done), or None when the
    error is not one a rewrite can mend (or the rewrite would change nothing)."""
    lines = code.split("\n")
    if not 1 <= line <= len(lines):
        return None
    start = sum(len(s) + 1 for s in lines[: line - 1])
    end = start + len(lines[line - 1])
    uses_uint = re.search(r"\bu(?:int|vec[234])\b", code) is not None
    m = _RETURN.search(message)
    if m and _CONSTRUCTIBLE.match(m[3]):
        return _wrap_statement(
            code, start, end, r"\breturn\b", m[3], f"return {m[1]} from {m[3]} {m[2]}()"
        )
    m = _CONST.search(message)
    if m:
        drop = re.compile(rf"\bconst\s+(?=[\w\s]*\b{re.escape(m[1])}\b)")
        done = _on_line(code, start, end, lambda s: drop.sub("", s, count=1))
        return (done, f"const {m[1]} set from a non-constant: not const") if done else None
    if _MOD.search(message):
        done = _on_line(code, start, end, lambda s: _PERCENT.sub(r"mod(\1, \2)", s, count=1))
        return (done, "% on floats: mod(...)") if done else None
    m = _ASSIGN.search(message)
    if m and _CONSTRUCTIBLE.match(m[2]):
        if m[2] in ("uint", "uvec2", "uvec3", "uvec4") and m[1] == "int":
            done = _on_line(code, start, end, lambda s: _INT.sub(r"\1u", s))
            if done is not None:
                return done, "an int literal for a uint: a `u` suffix"
        pattern = r"(?<![=!<>+\-*/])=(?!=)"
        return _wrap_statement(code, start, end, pattern, m[2], f"{m[1]} assigned to a {m[2]}")
    if _UINT_CALL.search(message) and uses_uint:
        done = _on_line(code, start, end, lambda s: _INT.sub(r"\1u", s))
        return (done, "int literals passed for uints: a `u` suffix") if done else None
    if _OPERANDS.search(message):
        if uses_uint and ("relational" in message or "arithmetic" in message):
            done = _on_line(code, start, end, lambda s: _INT.sub(r"\1u", s))
            if done is not None:
                return done, "int literals mixed with uints: a `u` suffix"
        done = _on_line(code, start, end, lambda s: _INT.sub(r"\1.0", s))
        return (done, "int literals mixed with floats: made floats") if done else None
    return None


def reserved_name(code: str, line: int, message: str) -> str | None:
    """The name on `line` that the error says is a GLSL 3.30 keyword, if it is one that
    older GLSL leaves free (so a file may use it as a variable or function name)."""
    m = _RESERVED_WORD.search(message)
    lines = code.split("\n")
    if m is None or not 1 <= line <= len(lines):
        return None
    word = (m[1] or m[2]).lower()
    return word if word in RESERVED and re.search(rf"\b{word}\b", lines[line - 1]) else None


def rename(code: str, word: str) -> str:
    """`word` renamed `word_` wherever it is a name (not where it qualifies a declaration,
    as in `flat in`); line numbers are kept."""
    qualifier = r"(?!\s+(?:in|out|varying|centroid|uniform|attribute)\b)"
    return re.sub(rf"(?<![\w.])\b{word}\b{qualifier}", f"{word}_", code)


def _on_line(code: str, start: int, end: int, rewrite: Callable[[str], str]) -> str | None:
    new = rewrite(code[start:end])
    return None if new == code[start:end] else code[:start] + new + code[end:]


def _wrap_statement(
    code: str, start: int, end: int, keyword: str, kind: str, what: str
) -> tuple[str, str] | None:
    """Wrap what follows `keyword` on the line, up to its statement's `;`, in `kind(...)`.
    The statement may run on over later lines; no line is added or removed."""
    m = re.compile(keyword).search(code, start, end)
    if m is None:
        return None
    i, depth = m.end(), 0
    while i < len(code):
        c = code[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ";" and depth <= 0:
            break
        i += 1
    expr = code[m.end() : i]
    if not expr.strip() or i >= len(code) or re.match(rf"\s*{kind}\s*\(", expr):
        return None
    core = expr.strip()
    lead, trail = expr[: expr.index(core)], expr[expr.index(core) + len(core) :]
    wrapped = f"{lead}{kind}({core}){trail}"
    return code[: m.end()] + wrapped + code[i:], f"{what}: wrapped in {kind}(...)"
