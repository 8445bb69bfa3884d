"""What a layer shader knows of its dreamer: one table, and the GLSL generated from it.

Each field travels in the layer's data row (texel i // 4, component i % 4 of a float
texture) and arrives in a rig-dialect shader as a global of that name, loaded by
`_oneiric_load()`; ISF and Shadertoy layers get them as `oneiric_<name>` uniforms. The
declarations and the loader are generated here, so the row and the shader never drift.
"""

from __future__ import annotations

FIELDS_DOC: tuple[tuple[str, str], ...] = (
    ("delta", "relative band powers, each 0..1"),
    ("theta", ""),
    ("alpha", ""),
    ("sigma", ""),
    ("beta", ""),
    ("gamma", ""),
    ("arousal", "0 deep sleep .. 1 alert"),
    ("quality", "signal quality 0..1"),
    ("heart", "heart rate (bpm)"),
    ("beat", "1 on a heartbeat, decaying"),
    ("breath", "breath 0..1 (in/out)"),
    ("breath_phase", "breath phase 0..1"),
    ("breath_rate", "breaths a minute"),
    ("hue", "the dreamer's look (params)"),
    ("warp", ""),
    ("speed", ""),
    ("seed", ""),
    ("depth", "sleep depth 0..1"),
    ("stage", "stage 0 W .. 4 REM"),
    ("weight", "merge weight"),
    ("t", "this dreamer's own time (advances at speed)"),
    ("beat_age", "seconds since the last heartbeat"),
    ("bpm", "the show's tempo"),
    ("tempo_phase", "its beat phase 0..1"),
    ("audio_rms", "the audio input's RMS level (0 without one)"),
    ("audio_bass", "its bands, 0..1 for -60..0 dBFS"),
    ("audio_mid", ""),
    ("audio_high", ""),
    ("audio_onset", "1 on a frame with an onset"),
)
FIELD_NAMES = tuple(name for name, _ in FIELDS_DOC)
FIELDS = {name: i for i, name in enumerate(FIELD_NAMES)}
DATA_TEXELS = 8  # RGBA32F texels per layer row (room for 32 fields)
assert len(FIELD_NAMES) <= 4 * DATA_TEXELS


def glsl_fields() -> str:
    """The declarations of every field and `_oneiric_load()`, which reads them from the
    layer's data row (layer_header.glsl includes this where it says `@fields`)."""
    decls = [f"float {name};" + (f"  // {doc}" if doc else "") for name, doc in FIELDS_DOC]
    texels = (len(FIELD_NAMES) + 3) // 4
    loads = [f"    vec4 _f{k} = _od({k});" for k in range(texels)]
    loads += [f"    {name} = _f{i // 4}.{'xyzw'[i % 4]};" for i, name in enumerate(FIELD_NAMES)]
    body = "\n".join(["void _oneiric_load() {", "    dreamer = v_layer;", *loads, "}"])
    return "\n".join(decls) + "\n\n" + body + "\n"
