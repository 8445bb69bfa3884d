"""Drift: a mapping for dream rooms. Runs every frame; edit and save while it runs.

- each dreamer's layer warps with its theta share and kicks on its heartbeat;
- the merge tears (chaos) as the group falls out of sync, and fuses as it syncs.
"""


def update(rig):
    for d in rig.dreamers:
        rig.set(f"{d.path}/warp", 0.3 + 1.2 * d.theta + 0.4 * d.beat)
    # out of sync -> a little malfunction; in sync -> calm and fused
    rig.set("/merge/chaos", rig.clamp((0.55 - rig.resonance) * 0.5))
    rig.set("/merge/resonance", rig.clamp(0.2 + 0.8 * rig.resonance))
