"""The rig's address space as the OSCQuery proposal (Vidvox) describes one.

Every param (ISF inputs, effects and voice controls included) and every command of
engine.commands becomes an OSC method with FULL_PATH, TYPE, ACCESS, VALUE, RANGE,
DESCRIPTION, UNIT and CLIPMODE, derived from its ParamSpec: there is no second list.
Enums are strings chosen from their VALS (a menu), bools are T/F (a toggle), ints i,
floats f (ff, fff... for points and colours). `Method` is immutable, so a snapshot of
the namespace can cross from the show's thread to the server's.

Every method's node carries a VALUE, as real clients expect: python-oscquery (0.4.0)
refuses a whole namespace if one method node lacks one. A write-only command's is
[null] (what an impulse carries; nothing to read), and `?VALUE` on it still answers
204 as the proposal says; the thumbnail's is the last JPEG, base64 (a blob in JSON).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.commands import COMMANDS
from engine.params import ParamSpec

# what this server supports, for HOST_INFO
EXTENSIONS = {
    "ACCESS": True,
    "VALUE": True,
    "RANGE": True,
    "DESCRIPTION": True,
    "TAGS": False,
    "EXTENDED_TYPE": True,
    "UNIT": True,
    "CRITICAL": False,
    "CLIPMODE": True,
    "OVERLOADS": True,
    "LISTEN": True,
    "PATH_CHANGED": False,
    "PATH_RENAMED": False,
    "PATH_ADDED": True,
    "PATH_REMOVED": True,
    "HTML": True,
}
ATTRIBUTES = (
    "FULL_PATH",
    "CONTENTS",
    "TYPE",
    "ACCESS",
    "VALUE",
    "RANGE",
    "DESCRIPTION",
    "UNIT",
    "CLIPMODE",
    "EXTENDED_TYPE",
    "OVERLOADS",
    "TAGS",
    "CRITICAL",
)
ACCESS_CODES = {"r": 1, "w": 2, "rw": 3}
THUMBNAIL = "/live/thumbnail"  # the output, small, as JPEG blobs a few times a second
# which command arguments name a file in the rig's folders (checked at the door)
FILE_ARGS = {"scene"}


def osc_type(spec: ParamSpec) -> str:
    if spec.kind == "enum":
        return "s"
    if spec.kind == "bool":
        return "T"
    return ("i" if spec.kind == "int" else "f") * spec.size


def wire_value(spec: ParamSpec, value: Sequence[float]) -> float | int | str | bool:
    """A scalar param's value as OSC and JSON carry it: an enum's choice name, a bool,
    an int, a float."""
    v = value[0]
    if spec.kind == "enum":
        return spec.choices[min(len(spec.choices) - 1, max(0, round(v)))]
    if spec.kind == "bool":
        return v >= 0.5
    return round(v) if spec.kind == "int" else float(v)


def json_value(spec: ParamSpec, value: Sequence[float]) -> list[Any]:
    """VALUE as JSON: an enum's choice name, a bool, ints, floats."""
    return [wire_value(spec, value)] if spec.size == 1 else list(value)


@dataclass(frozen=True, slots=True)
class Method:
    """One OSC method: its attributes but VALUE (values change every frame; kept apart)."""

    path: str
    attrs: Mapping[str, Any]
    spec: ParamSpec | None = None  # a param; None for a command or the thumbnail
    file_arg: bool = False  # its argument names a file (a scene): a plain name only

    @property
    def access(self) -> int:
        return int(self.attrs.get("ACCESS", 0))

    def json(self, value: Sequence[Any] | None) -> dict[str, Any]:
        out = {"FULL_PATH": self.path, **self.attrs}
        if self.spec is not None:
            if value is not None and self.access & 1:
                out["VALUE"] = json_value(self.spec, value)
        elif self.access:  # a command, or the thumbnail (its value as JSON already)
            out["VALUE"] = list(value) if value is not None and self.access & 1 else [None]
        return out


def param_method(spec: ParamSpec) -> Method:
    attrs: dict[str, Any] = {
        "TYPE": osc_type(spec),
        "ACCESS": ACCESS_CODES[spec.access],
        "DESCRIPTION": spec.doc or spec.path.rsplit("/", 1)[1],
    }
    if spec.kind == "enum":
        attrs["RANGE"] = [{"VALS": list(spec.choices)}]
    elif spec.kind != "bool":
        number = int if spec.kind == "int" else float
        attrs["RANGE"] = [{"MIN": number(spec.min), "MAX": number(spec.max)}] * spec.size
        attrs["CLIPMODE"] = [spec.clip] * spec.size
        if spec.unit:
            attrs["UNIT"] = [spec.unit] * spec.size
    return Method(spec.path, attrs, spec)


def command_methods(cues: Sequence[str], scenes: Sequence[str]) -> list[Method]:
    """The command table as write-only methods: an impulse is N, a name is s (with the
    cue and scene names as VALS, so a client can make buttons of them)."""
    out = []
    for command in COMMANDS.values():
        attrs: dict[str, Any] = {"ACCESS": 2, "DESCRIPTION": command.doc}
        if command.impulse:
            attrs["TYPE"] = "N"
            if command.path == "/cue/go" and cues:
                attrs["OVERLOADS"] = [{"TYPE": "s", "RANGE": [{"VALS": list(cues)}]}]
        else:
            attrs["TYPE"] = "s"
            if command.args[0] == "scene":
                attrs["RANGE"] = [{"VALS": list(scenes)}]
        file_arg = bool(command.args) and command.args[0] in FILE_ARGS
        out.append(Method(command.path, attrs, file_arg=file_arg))
    return out


def thumbnail_method() -> Method:
    attrs = {
        "TYPE": "b",
        "ACCESS": 1,
        "EXTENDED_TYPE": ["image/jpeg"],
        "DESCRIPTION": "the output, small, a few times a second (LISTEN to receive it)",
    }
    return Method(THUMBNAIL, attrs)


@dataclass
class _Node:
    path: str
    method: Method | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def build_tree(methods: Iterable[Method]) -> _Node:
    root = _Node("/")
    for m in methods:
        node = root
        parts = m.path.strip("/").split("/")
        for i, part in enumerate(parts):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node("/" + "/".join(parts[: i + 1]))
            node = child
        node.method = m
    return root


def find(root: _Node, path: str) -> _Node | None:
    node = root
    for part in [p for p in path.strip("/").split("/") if p]:
        child = node.children.get(part)
        if child is None:
            return None
        node = child
    return node


def node_json(node: _Node, values: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """A node and everything under it, as GET returns it."""
    if node.method is not None:
        out = node.method.json(values.get(node.path))
    else:
        name = node.path.rsplit("/", 1)[1] or "the rig"
        out = {"FULL_PATH": node.path, "ACCESS": 0, "DESCRIPTION": name}
    if node.children:
        out["CONTENTS"] = {k: node_json(c, values) for k, c in node.children.items()}
    return out


def _nodes(paths: Iterable[str]) -> set[str]:
    """Every node of a tree of these methods: the methods and the containers above them."""
    out = set()
    for p in paths:
        parts = p.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            out.add("/" + "/".join(parts[:i]))
    return out


def tree_changes(old: Iterable[str], new: Iterable[str]) -> tuple[list[str], list[str]]:
    """(added, removed) between two sets of method paths, each as the top-most nodes that
    came or went: a dreamer who joins is one PATH_ADDED of /dreamer/N, not thirty."""
    before, after = _nodes(old), _nodes(new)

    def tops(changed: set[str]) -> list[str]:
        return sorted(p for p in changed if p.rsplit("/", 1)[0] not in changed)

    return tops(after - before), tops(before - after)
