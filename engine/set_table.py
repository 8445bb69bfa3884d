"""A checked TOML table, the way set files (and the tables inside them) are read: typed
access that names the file and the field of every mistake, and notices unknown keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class SetError(ValueError):
    """A set file that cannot be played: names the file and the field."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        self.path = Path(path)
        self.where = where
        self.message = message
        super().__init__(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")


_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_TYPE_NAMES.update({list: "a list", dict: "a table"})


class Table:
    """Typed access to one TOML table that remembers which keys were read."""

    def __init__(self, path: Path, where: str, data: object) -> None:
        if not isinstance(data, dict):
            raise SetError(path, where, f"must be a table, got {type(data).__name__}")
        self.path, self.where, self.data = path, where, data
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> SetError:
        return SetError(self.path, self.field(key), message)

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = _MISSING,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, "missing (required)")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            got = type(value).__name__
            kinds = kind if isinstance(kind, tuple) else (kind,)
            wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            raise self.error(key, f"must be {wanted}, got {got}")
        if check is not None and (problem := check(value)):
            raise self.error(key, problem)
        return value

    def table(self, key: str) -> Table:
        self.used.add(key)
        return Table(self.path, self.field(key), self.data.get(key, {}))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "unknown field (a typo?)")


def positive(v: float) -> str | None:
    return None if v > 0 else f"must be positive, got {v}"


def non_negative(v: float) -> str | None:
    return None if v >= 0 else f"must not be negative, got {v}"


def name_list(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def table_list(
    raw: object, where: str, keys: set[str], *, kind: str, example: str = ""
) -> list[tuple[str, dict[str, Any]]]:
    """A set's list of tables (`[[osc_out]]`, `[[outputs]]`), each with its place
    ("<where>[i]") and only known keys; one table alone counts as a list of one.
    ValueError naming the place of the first mistake."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of tables ([[{kind}]])")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{at}: must be a table" + (f", e.g. {example}" if example else ""))
        unknown = sorted(set(item) - keys)
        if unknown:
            raise ValueError(f"{at}.{unknown[0]}: unknown field (a typo?)")
        out.append((at, item))
    return out
