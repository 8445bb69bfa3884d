"""What a layer shader knows of its dreamer: one table, and the GLSL generated from it.

Each field travels in the layer's data row (texel i // 4, component i % 4 of a float
texture) and arrives in a rig-dialect shader as a global of that name, loaded by
`_oneiric_load()`; ISF and Shadertoy layers get them as `oneiric_<name>` uniforms. The
declarations and the loader are generated here, so the row and the shader never drift.
Every field is a param: the show fills the row from the param space and nothing else, so
what a shader sees is what `get`, OSCQuery and the session log see.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

DREAMER = "{dreamer}"  # in a field's path: this layer's dreamer, /dreamer/N


@dataclass(frozen=True, slots=True)
class Field:
    """One value a layer shader reads, and the param it reads it from: the param's spec
    (`performance.py params`) says its range, unit and meaning, here only where it goes."""

    name: str  # the GLSL global (rig dialect); `oneiric_<name>` in ISF and Shadertoy
    path: str  # the param, with {dreamer} for /dreamer/N; absent (no [audio_in]) reads 0

    def param(self, dreamer: str) -> str:
        return self.path.replace(DREAMER, dreamer)


def _own(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, f"{DREAMER}/{n}") for n in names)


# the row's order is the shader's: a field's slot is its index here (new ones go last)
LAYER_FIELDS: tuple[Field, ...] = (
    # the EEG bands (engine/features/dsp.BANDS; not imported: shader workers start light)
    *_own("delta", "theta", "alpha", "sigma", "beta", "gamma"),
    *_own("arousal", "quality", "heart", "beat", "breath", "breath_phase", "breath_rate"),
    *_own("hue", "warp", "speed", "seed", "depth", "stage", "weight"),
    Field("t", f"{DREAMER}/time"),
    *_own("beat_age"),
    Field("bpm", "/tempo/bpm"),
    Field("tempo_phase", "/tempo/beat"),
    Field("audio_rms", "/audio/in/rms"),
    Field("audio_bass", "/audio/in/bass"),
    Field("audio_mid", "/audio/in/mid"),
    Field("audio_high", "/audio/in/high"),
    Field("audio_onset", "/audio/in/onset"),
    *_own("share"),
)
FIELD_NAMES = tuple(f.name for f in LAYER_FIELDS)


@cache
def field_paths(dreamer: str) -> tuple[str, ...]:
    """The params a dreamer's row reads, in slot order (dreamer: its path, /dreamer/N)."""
    return tuple(f.param(dreamer) for f in LAYER_FIELDS)


FIELDS = {name: i for i, name in enumerate(FIELD_NAMES)}
DATA_TEXELS = 8  # RGBA32F texels per layer row (room for 32 fields)
assert len(FIELD_NAMES) <= 4 * DATA_TEXELS


def glsl_fields() -> str:
    """The declarations of every field and `_oneiric_load()`, which reads them from the
    layer's data row (layer_header.glsl includes this where it says `@fields`)."""
    decls = [f"float {f.name};  // {f.path.replace(DREAMER, '/dreamer/N')}" for f in LAYER_FIELDS]
    texels = (len(FIELD_NAMES) + 3) // 4
    loads = [f"    vec4 _f{k} = _od({k});" for k in range(texels)]
    loads += [f"    {name} = _f{i // 4}.{'xyzw'[i % 4]};" for i, name in enumerate(FIELD_NAMES)]
    body = "\n".join(["void _oneiric_load() {", "    dreamer = v_layer;", *loads, "}"])
    return "\n".join(decls) + "\n\n" + body + "\n"
