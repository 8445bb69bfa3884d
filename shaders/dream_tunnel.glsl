// dream_tunnel: a Shadertoy-style layer (the rig writes main(); see engine/visuals/shadertoy.py).
// A soft tunnel of rings and ribs you drift down, as in the moment before sleep.
//   iTime: the drift; iMouse: steers the tunnel's end (drag it; untouched, it wanders);
//   iChannel0: the sound, whose low end makes the rings throb;
//   oneiric_breath: the tunnel widens as the dreamer breathes in; oneiric_hue: its colour.
// iChannel0: audio

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.2832 * (t + vec3(0.0, 0.33, 0.67)));
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec2 steer = iMouse.z > 0.0 ? (iMouse.xy - 0.5 * iResolution.xy) / iResolution.y
                                : 0.12 * vec2(sin(iTime * 0.21), cos(iTime * 0.17));
    vec2 p = uv - steer * (1.0 - length(uv));                 // the far end drifts, the rim stays
    float r = length(p);
    float a = atan(p.y, p.x);
    float bass = texture(iChannel0, vec2(0.02, 0.25)).x;      // Shadertoy's sound texture, row 0
    float width = 0.35 + 0.15 * oneiric_breath;
    float depth = width / max(r, 1e-3) + iTime * 0.6;         // distance down the tunnel
    float blur = clamp(fwidth(depth) * 1.5, 0.0, 1.0);         // rings finer than a pixel: grey
    float rings = mix(0.5 + 0.5 * cos(depth * 12.566), 0.5, blur);
    float ribs = 0.5 + 0.5 * cos(a * 8.0 + depth * 1.3);
    float shade = rings * rings * (0.55 + 0.45 * ribs) * (0.7 + 0.6 * bass);
    float fog = smoothstep(0.0, 0.45, r);                    // the far end fades to black
    vec3 col = palette(oneiric_hue + depth * 0.11 + 0.05 * ribs) * shade * fog * 0.85;
    col *= 1.0 - 0.45 * smoothstep(0.45, 1.0, length(uv));   // and the rim sinks into the dark
    col += vec3(0.9, 0.8, 1.0) * 0.05 / (r * 40.0 + 1.0);   // a faint light at the end
    fragColor = vec4(col, 1.0);
}
