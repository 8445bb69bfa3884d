/*{
    "DESCRIPTION": "Afterimage: two turning gratings make a moire; what they leave on the retina lingers in the complementary colour, as when you close your eyes after staring at a light. Written in the ISF v1 style (no ISFVSN, PERSISTENT_BUFFERS, vv_FragNormCoord, texture2D) on purpose: old files keep working.",
    "CREDIT": "Oneiric",
    "CATEGORIES": ["Generator", "Feedback", "Oneiric"],
    "INPUTS": [
        {"NAME": "lines", "TYPE": "float", "LABEL": "line density", "DEFAULT": 22.0, "MIN": 6.0, "MAX": 60.0},
        {"NAME": "twist", "TYPE": "float", "LABEL": "turning speed", "DEFAULT": 0.12, "MIN": -1.0, "MAX": 1.0},
        {"NAME": "linger", "TYPE": "float", "LABEL": "how long afterimages last", "DEFAULT": 0.93, "MIN": 0.5, "MAX": 0.99},
        {"NAME": "light", "TYPE": "color", "DEFAULT": [1.0, 0.75, 0.35, 1.0]}
    ],
    "PERSISTENT_BUFFERS": {
        "retina": {"WIDTH": "$WIDTH / 2", "HEIGHT": "$HEIGHT / 2"}
    },
    "PASSES": [
        {"TARGET": "retina"},
        {}
    ]
}*/

// Pass 0 draws the moire into the red channel of `retina` (half resolution) and lets the
// green channel follow it slowly: the afterimage. Pass 1 shows the moire in `light` and
// the afterimage in its complement. The gratings turn with the dreamer's breath
// (oneiric_breath_phase) as well as with time.

float grating(vec2 p, float angle) {
    vec2 dir = vec2(cos(angle), sin(angle));
    return 0.5 + 0.5 * sin(dot(p, dir) * lines);
}

void main() {
    vec2 uv = vv_FragNormCoord;
    if (PASSINDEX == 0) {
        vec2 p = (uv - 0.5) * vec2(RENDERSIZE.x / RENDERSIZE.y, 1.0) * 6.2832;
        float a = TIME * twist + 0.25 * sin(6.2832 * oneiric_breath_phase);
        float m = grating(p, a) * grating(p * 1.03, a + 0.12 + 0.05 * sin(TIME * 0.3));
        m = m * m * 2.2;                                      // the beats between them: moire
        m *= smoothstep(3.6, 0.5, length(p));                 // a vignette of light
        vec4 before = texture2D(retina, uv);
        float after = mix(before.r, before.g, linger);        // slowly follows the moire
        gl_FragColor = vec4(m, after, 0.0, 1.0);
    } else {
        vec4 seen = texture2D(retina, uv);
        vec3 complement = vec3(1.0) - light.rgb;
        vec3 col = light.rgb * seen.r * 0.8 + normalize(complement + 0.05) * seen.g * 0.45;
        gl_FragColor = vec4(col + vec3(0.02, 0.015, 0.03), 1.0);
    }
}
