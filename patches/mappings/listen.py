"""The music drives the dream: the first layer swells on the kick (the audio input's
bass band), the merge frays on the hats, and the flower opens with the spectrum."""


def update(rig):
    bass = rig.get("/audio/in/bass")
    rig.set("/dreamer/1/weight", 0.1 + 0.9 * bass)
    rig.set("/dreamer/1/warp", 0.4 + 0.8 * bass)
    rig.set("/merge/chaos", 0.25 * rig.get("/audio/in/high") * rig.get("/audio/in/onset"))
