/*{
    "DESCRIPTION": "Drift stars: falling asleep through a field of stars that stream past from a vanishing point; with warp on, they stretch into light-speed streaks.",
    "CREDIT": "Oneiric",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Oneiric"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 0.35, "MIN": 0.0, "MAX": 2.0},
        {"NAME": "warp", "TYPE": "bool", "LABEL": "light-speed streaks", "DEFAULT": false},
        {"NAME": "density", "TYPE": "long", "VALUES": [1, 2, 3], "LABELS": ["sparse", "starry", "milky way"], "DEFAULT": 2},
        {"NAME": "vanish", "TYPE": "point2D", "LABEL": "vanishing point", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0]},
        {"NAME": "starlight", "TYPE": "color", "DEFAULT": [0.75, 0.85, 1.0, 1.0]}
    ]
}*/

// Stars live on rings of a tunnel around `vanish`: angle x depth cells, one star per cell,
// each flowing outward as its depth runs from far to near. `density` adds shells of
// cells; `warp` smears each star along its path. The dreamer's depth of sleep
// (oneiric_depth) slows the flight a little; its hue (oneiric_hue) tints the far stars.

float hash(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec3 shell(float r, float a, float lr, float k, float t, vec3 far) {
    float spokes = 48.0 + 24.0 * k;
    float spoke = floor(a * spokes);
    float z = lr * 2.2 - t * (1.0 + 0.3 * k) + hash(vec2(spoke, k));  // depth runs with time
    vec2 cell = vec2(spoke, floor(z));
    vec2 f = vec2(fract(a * spokes), fract(z));
    float h = hash(cell + k * 17.0);
    if (h < 0.55) return vec3(0.0);                                  // most cells are empty
    vec2 star = vec2(0.2 + 0.6 * hash(cell + 3.1), 0.1 + 0.8 * hash(cell - 5.7));
    vec2 d = (f - star) * vec2(r * 6.2832 / spokes, 0.45 * r);          // cell units -> screen
    float len = warp ? min(0.05 + 0.5 * speed, 0.45 * (0.97 - star.y)) : 0.0;  // streak, in its cell
    d.y = d.y > 0.0 ? max(d.y - len * r, 0.0) : d.y;
    float size = 0.0015 + 0.004 * r;
    float q = dot(d, d) / (size * size);
    float light = exp(-q) + 0.25 * exp(-q * 0.1);                    // core + halo
    return light * mix(far, starlight.rgb, smoothstep(0.02, 0.35, r)) * (0.2 + 0.8 * h);
}

void main() {
    vec2 p = (isf_FragNormCoord - vanish) * vec2(RENDERSIZE.x / RENDERSIZE.y, 1.0);
    float t = TIME * speed * (1.0 - 0.4 * oneiric_depth);
    float r = length(p);
    float a = atan(p.y, p.x) / 6.2832 + 0.5;
    float lr = log(r + 1e-4);
    vec3 far = 0.6 + 0.4 * cos(6.2832 * (oneiric_hue + vec3(0.0, 0.33, 0.67)));
    vec3 stars = vec3(0.0);
    for (int k = 0; k < 3; ++k) {
        if (k >= density) break;
        stars += shell(r, a, lr, float(k), t, far);
    }
    vec3 col = vec3(0.01, 0.012, 0.03) + stars * smoothstep(0.0, 0.25, r);
    gl_FragColor = vec4(col * 1.4, 1.0);
}
