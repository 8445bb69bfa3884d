"""What a dreamer is, as params: its controls, the features the show publishes of it,
and the group's params, each with its spec (range, unit, access, description).

`/dreamer/N/*` are registered for each dreamer as it joins (engine.dreamers.Dreamer);
the layer fields (engine/visuals/fields.py) read some of them, the voice others.
"""

from __future__ import annotations

from engine.features.dsp import BANDS as BAND_RANGES
from engine.params import ParamSpec
from engine.sources.hypnogram import STAGES
from engine.visuals.merge import BLEND_NAMES

BANDS = tuple(BAND_RANGES)  # the EEG bands, slow to fast (engine/features/dsp.py)

GROUP_PARAMS = (
    ParamSpec("/group/entrain", 0.0, 0.0, 1.0, smooth=1.0, doc="pull breathing into step"),
    ParamSpec("/group/breath_rate", 10.0, 4.0, 20.0, unit="1/min", doc="the group's breath"),
    ParamSpec("/group/resonance", 0.0, access="r", doc="how in step the group breathes (Kuramoto)"),
)


# what the show measures of each dreamer, published every frame as read-only params
# (/dreamer/N/alpha, /dreamer/N/heart...): name, max, unit, description
FEATURE_OUTPUTS = (
    *((b, 1.0, "", f"{b} share of the EEG's power") for b in BANDS),
    ("heart", 250.0, "bpm", "heart rate (0 until measured)"),
    ("beat", 1.0, "", "1 at a heartbeat, decaying"),
    ("breath", 1.0, "", "the breath: 0 exhaled, 1 inhaled"),
    ("breath_rate", 60.0, "1/min", "breaths a minute (0 until measured)"),
    ("breath_phase", 1.0, "cycle", "where in its breath, 0 at inhalation"),
    ("arousal", 1.0, "", "how awake, from bands, heart and breath"),
    ("depth", 1.0, "", "how deeply asleep: 1 - arousal"),
    ("quality", 1.0, "", "how far the signals can be trusted"),
    ("presence", 1.0, "", "1 while the source speaks; fades when it falls silent"),
)
# what the dreamer's layer reads beside its features, published every frame too
LAYER_OUTPUTS = (
    ("time", 1e7, "s", "the dreamer's own time: runs at its speed, so a change never jumps"),
    ("seed", 1.0, "", "the dreamer's own variation, 0..1, fixed by its seed"),
    ("beat_age", 60.0, "s", "seconds since the last heartbeat (at most 60)"),
)


def feature_params(n: int) -> tuple[ParamSpec, ...]:
    return tuple(
        ParamSpec(f"/dreamer/{n}/{name}", 0.0, 0.0, top, unit=unit, doc=doc, access="r")
        for name, top, unit, doc in (*FEATURE_OUTPUTS, *LAYER_OUTPUTS)
    )


def dreamer_params(n: int, *, hue: float, pitch: float) -> tuple[ParamSpec, ...]:
    """The params of dreamer n (1-based, as in /dreamer/3/weight)."""
    p = f"/dreamer/{n}"
    return (
        ParamSpec(
            f"{p}/weight", 1.0, smooth=0.1, doc="its weight in the merge (share: what it gets)"
        ),
        ParamSpec(f"{p}/mute", 0.0, kind="bool", doc="silence and hide (fades with the cue)"),
        ParamSpec(f"{p}/hue", hue, smooth=0.3, doc="colour of the layer"),
        ParamSpec(f"{p}/warp", 0.5, 0.0, 2.0, smooth=0.3, doc="distortion of the layer"),
        ParamSpec(f"{p}/speed", 1.0, 0.0, 4.0, smooth=0.3, doc="time scale of the layer"),
        ParamSpec(f"{p}/volume", 0.7, smooth=0.05, doc="voice level"),
        ParamSpec(
            f"{p}/pitch", pitch, 20.0, 2000.0, curve="log", smooth=0.2, unit="Hz", doc="voice pitch"
        ),
        ParamSpec(
            f"{p}/blend",
            0.0,
            kind="enum",
            choices=("merge", *BLEND_NAMES),
            doc="its own blend mode (merge: /merge/mode)",
        ),
        ParamSpec(
            f"{p}/stage",
            0.0,
            kind="enum",
            choices=STAGES,
            access="r",
            doc="scored every 30 s; a 4-s guess before the first",
        ),
        *feature_params(n),
        ParamSpec(
            f"{p}/share",
            0.0,
            access="r",
            doc="its share of the merge now: weight, mute, sleep state and presence",
        ),
    )
