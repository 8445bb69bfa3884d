/*{
    "DESCRIPTION": "Comet trails: bright comets wander on slow Lissajous paths and leave trails that swirl and fade, drawn into a persistent float buffer (feedback).",
    "CREDIT": "Oneiric",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Feedback", "Oneiric"],
    "INPUTS": [
        {"NAME": "comets", "TYPE": "long", "VALUES": [1, 3, 5, 7], "LABELS": ["one", "three", "five", "seven"], "DEFAULT": 3},
        {"NAME": "decay", "TYPE": "float", "LABEL": "trail length", "DEFAULT": 0.96, "MIN": 0.8, "MAX": 0.995},
        {"NAME": "swirl", "TYPE": "float", "DEFAULT": 0.35, "MIN": -1.0, "MAX": 1.0},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [1.0, 0.55, 0.25, 1.0]},
        {"NAME": "clear", "TYPE": "event", "LABEL": "wipe the sky"}
    ],
    "PASSES": [
        {"TARGET": "trails", "PERSISTENT": true, "FLOAT": true, "WIDTH": "floor($WIDTH / 2)", "HEIGHT": "floor($HEIGHT / 2)"},
        {}
    ]
}*/

// Pass 0 reads last frame's `trails`, turns it a little around the centre (swirl) and
// dims it (decay), then adds this frame's comet heads. `clear` wipes the sky once.
// The trails live at half resolution (they are soft anyway). Pass 1 colours them: hot white
// cores, `tint` in the long tails.
// The dreamer's arousal speeds the comets up; each heartbeat (oneiric_beat) swells the heads.

vec2 cometAt(float i, float t) {
    return vec2(0.5) + vec2(0.36 * sin(t * (0.53 + 0.07 * i) + i * 2.1),
                            0.34 * sin(t * (0.71 + 0.05 * i) + i * 1.3 + 0.7));
}

void main() {
    vec2 uv = isf_FragNormCoord;
    if (PASSINDEX == 0) {
        float a = swirl * 0.02;
        vec2 q = uv - 0.5;
        q = mat2(cos(a), -sin(a), sin(a), cos(a)) * q * 0.995;   // turn, and flow outward
        vec4 old = IMG_NORM_PIXEL(trails, q + 0.5) * decay;
        if (clear) old = vec4(0.0);
        float aspect = RENDERSIZE.x / RENDERSIZE.y;
        float t = TIME * (0.8 + 0.8 * oneiric_arousal);
        float r = 0.006 + 0.006 * oneiric_beat;
        float heads = 0.0;
        for (int i = 0; i < 7; ++i) {
            if (i >= comets) break;
            vec2 d = (uv - cometAt(float(i), t)) * vec2(aspect, 1.0);
            heads += r * r / (dot(d, d) + r * r * 0.35);
        }
        gl_FragColor = old + vec4(heads * 0.5);
    } else {
        float e = IMG_NORM_PIXEL(trails, uv).r;
        vec3 core = vec3(1.0, 0.97, 0.9);
        vec3 col = tint.rgb * (1.0 - exp(-e * 2.5)) * 0.85 + core * smoothstep(0.6, 2.0, e) * 0.6;
        vec3 sky = vec3(0.015, 0.02, 0.05);
        gl_FragColor = vec4(sky + col, 1.0);
    }
}
