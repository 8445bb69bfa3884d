/*{
    "DESCRIPTION": "Lucid rings: two drops on a still, dark lake. Their ripples cross in a moire of light that breathes with the dreamer.",
    "CREDIT": "Oneiric",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Oneiric"],
    "INPUTS": [
        {"NAME": "center", "TYPE": "point2D", "LABEL": "first drop", "DEFAULT": [0.38, 0.55], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0]},
        {"NAME": "rings", "TYPE": "float", "LABEL": "ring density", "DEFAULT": 14.0, "MIN": 4.0, "MAX": 40.0},
        {"NAME": "tint", "TYPE": "color", "LABEL": "light", "DEFAULT": [0.45, 0.75, 1.0, 1.0]},
        {"NAME": "drift", "TYPE": "float", "LABEL": "second drop's orbit", "DEFAULT": 0.25, "MIN": 0.0, "MAX": 0.5}
    ]
}*/

// Rings spread from `center` and from a second drop orbiting it; where their crests meet,
// the light adds up. The dreamer's breath (oneiric_breath) swells the rings, each heartbeat
// (oneiric_beat) flashes them.

float ripple(vec2 p, vec2 c, float phase) {
    float d = length(p - c);
    float crest = 0.5 + 0.5 * cos(d * rings * 6.2832 - phase);
    return crest * crest * crest * exp(-2.2 * d);   // sharp crests, fading with distance
}

void main() {
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    vec2 p = isf_FragNormCoord * vec2(aspect, 1.0);
    vec2 c1 = center * vec2(aspect, 1.0);
    float a = TIME * 0.31;
    vec2 c2 = c1 + drift * vec2(cos(a), sin(a * 1.3)) * vec2(1.3, 1.0);
    float swell = 1.5 + 2.0 * oneiric_breath;
    float w = ripple(p, c1, TIME * swell) + ripple(p, c2, TIME * swell * 1.17 + 1.3);
    float glow = w * (0.55 + 0.45 * oneiric_beat);
    vec3 deep = vec3(0.02, 0.03, 0.07) * (1.0 - isf_FragNormCoord.y * 0.5);
    float meet = max(w - 1.0, 0.0);   // where two crests cross
    vec3 col = deep + tint.rgb * glow * 0.8 + vec3(0.9, 0.95, 1.0) * meet * meet * 0.8;
    gl_FragColor = vec4(col, 1.0);
}
