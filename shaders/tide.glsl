// tide: a slow, deep sea seen from above, lit by a low moon.
//
//   delta  -> the swell: the deeper the sleep, the bigger, longer and slower the waves
//   beat   -> each heartbeat thumps at the centre and rings outward: beat is 1 on the beat
//             and decays, so the ring's radius grows as (1 - beat) and its strength is beat;
//             the whole sea flares a little on the beat
//   sigma  -> sleep spindles: fine shimmering contours that wax and wane on the water
//   breath -> the moonlight on the water swells and fades with the breath
//   hue    -> the water's colour
//
// drivers: delta, beat, sigma, breath, hue

vec4 layer(vec2 uv) {
    float aspect = u_resolution.x / u_resolution.y;
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0);             // centre at 0, square units
    float swell = 0.15 + 0.9 * delta;                     // delta: wave height
    float k = mix(16.0, 5.0, clamp(delta * 1.5, 0.0, 1.0));  // delta: longer waves...
    float w = sqrt(k) * 0.3;                              // ...that travel slower (deep water)

    // one slow noise bends the crests and paces the spindle bursts
    float n = noise(p * 2.2 + vec2(t * 0.08, -t * 0.05));

    // the swell: two long trains from nearly the same direction, beating slowly
    float bend = 1.8 * n;
    float h = swell * sin(dot(p, vec2(0.8, 0.6)) * k - t * w + bend);
    h += swell * 0.5 * sin(dot(p, vec2(0.55, 0.83)) * k * 1.6 - t * w * 1.26 + 2.0 * bend);
    // the heartbeat: a ring travelling out from the centre as beat decays
    float r = length(p), d = r - (0.03 + (1.0 - beat) * 0.85);
    h += beat * 0.9 * exp(-d * d * 400.0) * sin(d * 80.0);

    // the normal from screen-space derivatives: one evaluation of the height, not three
    vec2 dh = vec2(dFdx(h), dFdy(h));
    vec3 nrm = normalize(vec3(-dh * u_resolution.y * 0.05, 1.0));
    float fw = max(abs(dh.x) + abs(dh.y), 1e-5);          // fwidth(h), for crisp lines

    // colour: deep trough to lit crest in the dreamer's hue; the light is a paler accent
    vec3 ink = hsv2rgb(vec3(hue, 0.75, 1.0));
    vec3 light = hsv2rgb(vec3(hue + 0.08, 0.3, 1.0));
    vec3 col = ink * mix(0.09, 0.4, clamp(0.5 + 0.5 * h / (swell + 0.2), 0.0, 1.0));
    // low moonlight from the upper left; its glints breathe
    vec3 l = normalize(vec3(-0.6, 0.7, 0.4));
    float s = max(dot(reflect(-l, nrm), vec3(0.0, 0.0, 1.0)), 0.0);
    s *= s; s *= s;                                       // s^4
    float spec = s * s * s * s * s;                       // s^20, cheaper than pow()
    col *= (0.25 + 1.1 * max(dot(nrm, l), 0.0)) * (0.75 + 0.4 * breath + 0.25 * beat);
    col += light * spec * (0.15 + 0.5 * breath);
    // the thump: a glow at the centre, brightest on the beat
    col += light * 0.35 * beat * beat * exp(-r * r * 40.0);

    // contour lines of the swell, like a chart of the sea: the ring bends them
    float lines = h * 5.0 + 0.05 * t;
    float iso = abs(fract(lines) - 0.5) / (5.0 * fw);
    col += mix(ink, light, 0.5) * 0.22 * (1.0 - smoothstep(0.0, 1.6, iso));

    // sigma: spindle bursts drift over the water; inside them fine contours shimmer
    float burst = smoothstep(0.4, 0.7, n) * min(sigma * 3.5, 1.0);
    float fine = h * 20.0 - t * 2.5;
    float fiso = abs(fract(fine) - 0.5) / (20.0 * fw);
    col += light * 0.5 * burst * (1.0 - smoothstep(0.0, 1.2, fiso));
    return vec4(col, 1.0);
}
