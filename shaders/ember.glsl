// ember: a smouldering nebula of fire, its tongues rising slowly.
//
//   theta   -> dreamy flicker: more theta, faster licking flames and a trembling glow
//   stage   -> REM (stage 4) makes it dream: the flames curl and their colours drift
//   arousal -> brightness: a waking dreamer burns hot, a deep sleeper smoulders
//   warp    -> how far the flames are twisted (the domain warp)
//   hue     -> the fire's base colour; the hottest cores go toward hue + 0.09, paler
//
// drivers: theta, stage, arousal, warp, hue

vec4 layer(vec2 uv) {
    float aspect = u_resolution.x / u_resolution.y;
    float rem = smoothstep(3.5, 4.0, stage);               // 1 in REM, 0 otherwise
    float flicker = theta + 0.5 * rem;                      // theta and REM: how restless
    vec2 p = vec2(uv.x * aspect * 2.6, uv.y * 1.7);         // squashed: tall tongues
    p.y -= t * (0.15 + 0.6 * flicker);                      // the fire rises, faster when restless

    // domain warp: a coarse noise field pushes the fire around (warp: how far);
    // in REM the push turns sideways, so the flames curl
    vec2 q = vec2(noise(p * 0.6 + vec2(0.0, t * 0.1)), noise(p * 0.6 + vec2(5.2, 1.3 - t * 0.1)));
    q = q - 0.5;
    q = mix(q, vec2(-q.y, q.x) * 1.6, rem);
    float f = fbm(p + (0.5 + 2.5 * warp) * q + vec2(0.0, t * flicker * 0.5), 3);

    // the flicker: a 1-D noise in time (two hashes, cheaper than noise()), deeper with theta
    float ft = t * 7.0, fl = fract(ft);
    float jitter = mix(hash12(vec2(floor(ft), seed)), hash12(vec2(floor(ft) + 1.0, seed)),
                       fl * fl * (3.0 - 2.0 * fl));
    float tremble = 1.0 + 0.5 * flicker * (jitter - 0.5);

    // heat: the tongues are where the noise beats a threshold that rises with height
    float heat = clamp((f * tremble - 0.25 - 0.3 * uv.y) * 3.0, 0.0, 1.0);
    float bright = 0.55 + 0.5 * arousal;                    // arousal: how hot it burns

    // colour: embers in the base hue, hotter cores paler and shifted; REM lets the hue wander
    float h = hue + 0.09 * heat + rem * 0.4 * (f - 0.45);
    vec3 fire = hsv2rgb(vec3(h, 1.0 - 0.45 * heat * heat * heat, 1.0));
    vec3 col = fire * mix(0.12 * smoothstep(0.0, 0.15, heat), 1.0, heat * heat) * bright;
    col += vec3(0.01, 0.005, 0.018) * (1.0 - heat);        // a faint cold nebula behind
    return vec4(col, 1.0);
}
