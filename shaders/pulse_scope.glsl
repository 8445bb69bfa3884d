// pulse_scope: the ritual. The dreamer's raw signals, drawn as a luminous oscilloscope.
// Nothing here is invented: every trace and glow is a sample of signal(), the last two
// seconds of data scrolling right to left, "now" at the right edge.
//
//   signal(0, x) EEG  -> the upper trace: the brain's own waveform
//   signal(1, x) ECG  -> the middle trace: each heartbeat is a spike
//   signal(2, x) resp -> breathing: a field of light that swells up from the bottom,
//                        and a halo around the centre that grows with the breath now
//   hue               -> the phosphor's colour (the ECG glows in the opposite hue)
//
// drivers: eeg, ecg, resp, hue

// Brightness of a trace whose value here is y0: a thin core and a soft halo. The stroke
// spans the values between this pixel's neighbours (dFdx), so an ECG spike stays unbroken.
float trace(float y0, float y, float width) {
    float span = 0.5 * abs(dFdx(y0)) + 0.5 / u_resolution.y;
    float d = max(abs(y - y0) - span, 0.0) * u_resolution.y / width;   // pixels off the stroke
    return exp(-d * d) + 0.22 * exp(-0.25 * d);
}

vec4 layer(vec2 uv) {
    float width = max(1.0, u_resolution.y / 300.0);       // line width in pixels
    float fade = 0.3 + 0.7 * uv.x * uv.x;                 // phosphor: older samples dimmer
    float head = 1.0 + 2.0 * smoothstep(0.96, 1.0, uv.x); // the beam: "now" burns brightest
    vec3 ink = hsv2rgb(vec3(hue, 0.55, 1.0));
    vec3 blood = hsv2rgb(vec3(hue + 0.5, 0.6, 1.0));
    float eeg = 0.74 + 0.14 * signal(0, uv.x);
    float ecg = 0.45 + 0.13 * signal(1, uv.x);
    float resp = signal(2, uv.x);

    // breath: a field under the respiration curve, brightest at its crest
    float crest = 0.05 + 0.12 * (resp + 1.0);
    float below = crest - uv.y;
    float field = below > 0.0 ? 0.07 + 0.3 * exp(-below * 12.0) : 0.0;
    vec3 col = mix(ink, vec3(1.0), 0.2) * (field + 0.35 * trace(crest, uv.y, width)) * fade;
    // ...and a halo around the centre, as large as the breath is deep right now
    vec2 c = (uv - 0.5) * vec2(u_resolution.x / u_resolution.y, 1.0);
    col += ink * 0.1 * smoothstep(0.5 + 0.3 * signal(2, 1.0), 0.0, length(c));

    // the traces
    col += ink * 0.7 * fade * head * trace(eeg, uv.y, width);
    col += blood * 0.7 * fade * head * trace(ecg, uv.y, width);

    // the graticule: a faint grid, 0.2 s per division
    vec2 g = abs(fract(uv * vec2(10.0, 8.0) + 0.5) - 0.5) * u_resolution / vec2(10.0, 8.0);
    col += ink * 0.04 * step(min(g.x, g.y), 0.5);
    return vec4(col, 1.0);
}
