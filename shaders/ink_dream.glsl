// ink_dream: a multipass Shadertoy layer (tabs as on the site; see engine/visuals/shadertoy.py).
// A pen draws ink into still water; each frame the water turns and sinks a little
// towards the middle, so the strokes wind into a spiral and fade, as a thought does on
// the way into sleep.
//   Buffer A: the water. It reads its own last frame (feedback), turned by the dreamer's
//             arousal and drawn in by its breath, and adds the pen's ink.
//   Image:    the water, tone-mapped over a faint glow of the dreamer's colour.
//   iMouse: holds the pen (untouched, it wanders); iChannel1 of Buffer A: the sound,
//   whose low end thickens the stroke; oneiric_hue: the ink's colour.

// ---- Common ----
vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.2832 * (t + vec3(0.0, 0.33, 0.67)));
}

vec2 turn(vec2 p, float a) {
    float c = cos(a), s = sin(a);
    return mat2(c, s, -s, c) * p;
}

// ---- Buffer A ----
// iChannel0: Buffer A
// iChannel1: audio
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 res = iResolution.xy;
    vec2 p = (fragCoord - 0.5 * res) / res.y;              // centred, aspect kept
    float spin = 0.012 + 0.02 * oneiric_arousal;
    float sink = 0.994 - 0.006 * oneiric_breath;
    vec2 q = turn(p, spin) * sink;                          // where this water was a frame ago
    vec3 water = texture(iChannel0, q * res.y / res + 0.5).rgb * 0.985;
    vec2 pen = iMouse.z > 0.0 ? (iMouse.xy - 0.5 * res) / res.y
                              : vec2(0.55 * sin(iTime * 0.71), 0.35 * cos(iTime * 0.53));
    float bass = texture(iChannel1, vec2(0.02, 0.25)).x;
    float ink = smoothstep(0.07 + 0.04 * bass, 0.0, length(p - pen));
    fragColor = vec4(water + palette(oneiric_hue + 0.04 * iTime) * ink * 0.35, 1.0);
}

// ---- Image ----
// iChannel0: Buffer A
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec2 p = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec3 ink = texture(iChannel0, uv).rgb;
    vec3 glow = palette(oneiric_hue + 0.5) * 0.12 * (1.0 - smoothstep(0.0, 0.9, length(p)));
    fragColor = vec4(1.0 - exp(-1.6 * (ink + glow)), 1.0);
}
