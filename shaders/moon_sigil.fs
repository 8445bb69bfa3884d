/*{
    "DESCRIPTION": "Moon sigil: a kaleidoscope of a small drawing of the moon and stars (images/moon_sigil.png), turning slowly like a mandala seen with closed eyes.",
    "CREDIT": "Oneiric",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Kaleidoscope", "Oneiric"],
    "INPUTS": [
        {"NAME": "segments", "TYPE": "long", "VALUES": [3, 4, 6, 8, 12], "LABELS": ["three", "four", "six", "eight", "twelve"], "DEFAULT": 6},
        {"NAME": "spin", "TYPE": "float", "LABEL": "turns per minute", "DEFAULT": 2.0, "MIN": -12.0, "MAX": 12.0},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 3.0, "MIN": 1.0, "MAX": 6.0},
        {"NAME": "glow", "TYPE": "color", "LABEL": "halo colour", "DEFAULT": [0.35, 0.3, 0.9, 1.0]}
    ],
    "IMPORTED": {
        "sigil": {"PATH": "images/moon_sigil.png"}
    }
}*/

// The picture plane is folded into `segments` mirrored wedges around the centre; each
// wedge shows the same slice of `sigil`, so the moon and its stars bloom into a mandala.
// `zoom` walks in and out of it with the dreamer's breath (oneiric_breath); `glow` lights
// the gaps; the dreamer's hue (oneiric_hue) tints the gold.

void main() {
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(RENDERSIZE.x / RENDERSIZE.y, 1.0);
    float r = length(p);
    float a = atan(p.y, p.x) + TIME * spin * 0.10472;          // turns/min -> rad/s
    float wedge = 6.2832 / float(segments);
    a = abs(mod(a, wedge) - 0.5 * wedge);                       // fold and mirror
    float z = zoom * (0.9 + 0.1 * oneiric_breath);
    vec2 q = vec2(-0.12, 0.5) + vec2(cos(a), sin(a)) * r * z * 0.5;  // each wedge holds a moon
    vec4 img = IMG_NORM_PIXEL(sigil, clamp(q, 0.0, 1.0));
    vec3 gold = img.rgb * img.a * (0.9 + 0.1 * cos(6.2832 * (oneiric_hue + vec3(0.0, 0.33, 0.67))));
    vec3 halo = glow.rgb * 0.35 * exp(-3.0 * r) * (1.0 - img.a);
    float rim = smoothstep(0.5, 0.0, abs(r - 0.42)) * 0.08;
    gl_FragColor = vec4(gold * 0.9 + halo + glow.rgb * rim, 1.0);
}
