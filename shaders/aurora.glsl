// aurora: curtains of northern light over a dark sky.
//
//   alpha   -> the curtains sway wider and faster, and glow brighter (eyes-closed alpha = aurora)
//   breath  -> breathing in swells the curtains: their rays reach higher and shine more
//   hue     -> the colour of the curtains' lower hem; their tops drift to hue + 0.2
//   warp    -> how tightly each curtain is folded
//   t       -> the slow drift (the dreamer's own time: speed and seed are in it)
//
// drivers: alpha, breath, hue, warp

const int CURTAINS = 3;          // each costs two noise1() calls

// 1-D value noise, far cheaper than noise(vec2): smooth, 0..1; `row` picks an independent line
float hash11(float p) {
    p = fract(p * 0.1031);
    p *= p + 33.33;
    return fract(p * (p + p));
}
float noise1(float x, float row) {
    float i = floor(x) + row * 157.0, f = fract(x);
    return mix(hash11(i), hash11(i + 1.0), f * f * (3.0 - 2.0 * f));
}

vec4 layer(vec2 uv) {
    float aspect = u_resolution.x / u_resolution.y;
    float sway = 0.04 + 0.24 * alpha;            // alpha: how far the folds swing...
    float drift = t * (0.08 + 0.5 * alpha);      // ...and how fast
    float glow = 0.7 + 1.4 * alpha;              // alpha: how bright the light burns
    float reach = 0.08 + 0.32 * breath;          // breath: how high the rays climb
    glow *= 0.75 + 0.5 * breath;                 // breath: ...and a little brighter
    vec3 hem_col = hsv2rgb(vec3(hue, 0.85, 1.0));          // hue: the hem's colour
    vec3 top_col = hsv2rgb(vec3(hue + 0.2, 0.6, 1.0));     // the rays' tops

    // night sky: near black, a faint haze toward the top (the tops' colour, channels swapped)
    vec3 col = mix(vec3(0.0, 0.004, 0.018), top_col.bgr * 0.06, uv.y);

    for (int i = 0; i < CURTAINS; ++i) {
        float fi = float(i);
        float x = uv.x * aspect * (0.9 + 0.25 * fi) + fi * 3.7;
        // the hem: a slow fold drifting with t, swinging with alpha
        float fold = noise1(x * (1.5 + 3.0 * warp) + drift, fi);
        float edge = 0.16 + 0.21 * fi + (uv.x - 0.5) * (0.22 - 0.2 * fi) + sway * (fold - 0.5) * 2.0;
        float above = uv.y - edge;
        // rays: fine vertical streaks that follow the fold, shimmering slowly
        float rays = noise1((x + 2.0 * fold) * 28.0 + t * 0.4, fi + 7.0);
        rays = 0.15 + 0.85 * rays * rays * rays;
        // rays fading up from a bright, sharp hem; nothing below it
        float up = max(above, 0.0), down = clamp(1.0 + above * 40.0, 0.0, 1.0);
        float hem = 0.8 / (1.0 + up * up * 1200.0);
        float shape = (exp(-up / reach) * rays + hem) * down * down;
        // patchy: the curtain hangs brighter where its fold dips
        float lit = shape * glow * (1.0 - 0.25 * fi) * (1.3 - 0.6 * fold);
        col += mix(hem_col, top_col, clamp(up / (1.5 * reach), 0.0, 1.0)) * lit * 0.3;
    }

    // a few faint stars, hidden where the aurora is bright
    float star = step(0.996, hash12(floor(uv * u_resolution / 2.0) + seed));
    col += vec3(0.35) * star * max(0.0, 1.0 - 3.0 * dot(col, vec3(0.33)));

    return vec4(col, 1.0);
}
