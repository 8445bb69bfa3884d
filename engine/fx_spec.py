"""What a set says about effects: `fx = [...]` in a dreamer group, `master_fx = [...]` on top.

Each entry names an ISF filter (a file with an `inputImage` input) in `shaders/fx/` or
`shaders/`, as a string or as a table that also sets its `mix` (0..1) and `bypass`
and plugs its other image inputs:

    fx = ["blur", { shader = "key_mix", mix = 0.5, images = { other = "dreamer/2" } }]

An image source is `layer` (the dreamer's own layer, before its effects), `dreamer/N`
(the layer of dreamer N, as in `/dreamer/N`), `merge` (the merged frame: the previous
one, for a dreamer's effects) or an image file, relative to the set file. Only the shape is checked
here; names and files are checked when the show is built (`engine.visuals.effects`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SOURCE = re.compile(r"layer|merge|dreamer/\d+")
_KEYS = {"shader", "mix", "bypass", "images"}


@dataclass(frozen=True, slots=True)
class FxSpec:
    shader: str
    mix: float = 1.0
    bypass: bool = False
    images: Mapping[str, str] = field(default_factory=dict)  # image input -> source
    where: str = ""  # the field in the set file, for errors ("dreamers[0].fx[1]")


def is_named_source(source: str) -> bool:
    """True for `layer`, `merge`, `dreamer/N`; False for an image file."""
    return _SOURCE.fullmatch(source) is not None


def parse_fx(raw: object, where: str) -> tuple[FxSpec, ...]:
    """A set's list of effects, or ValueError("<where>[i]...: what is wrong")."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of effect names or tables")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"shader": item}
        if not isinstance(item, dict):
            raise ValueError(f"{at}: must be an effect name or a table")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise ValueError(f"{at}.{unknown[0]}: unknown field (a typo?)")
        shader, mix = item.get("shader"), item.get("mix", 1.0)
        bypass, images = item.get("bypass", False), item.get("images", {})
        if not isinstance(shader, str) or not shader:
            raise ValueError(f"{at}.shader: must name an effect shader")
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0 <= mix <= 1:
            raise ValueError(f"{at}.mix: must be a number 0..1")
        if not isinstance(bypass, bool):
            raise ValueError(f"{at}.bypass: must be true or false")
        if not isinstance(images, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in images.items()
        ):
            raise ValueError(f'{at}.images: must be a table of input = "source"')
        if "inputImage" in images:
            raise ValueError(f"{at}.images.inputImage: the chain feeds inputImage")
        out.append(FxSpec(shader, float(mix), bypass, dict(images), at))
    return tuple(out)
