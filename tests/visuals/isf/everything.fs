/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Every ISF construct in one generator: built-ins, passes sized by expressions, a persistent float buffer, an imported image, sound as a waveform and a spectrum",
    "CREDIT": "Oneiric tests",
    "CATEGORIES": ["Generator", "Test"],
    "INPUTS": [
        {"NAME": "cells", "TYPE": "long", "VALUES": [2, 4, 8], "LABELS": ["coarse", "medium", "fine"], "DEFAULT": 4},
        {"NAME": "glow", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [0.9, 0.6, 0.3, 1.0]},
        {"NAME": "focus", "TYPE": "point2D", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0]},
        {"NAME": "mirror", "TYPE": "bool", "DEFAULT": false},
        {"NAME": "flash", "TYPE": "event"},
        {"NAME": "wave", "TYPE": "audio", "MAX": 64},
        {"NAME": "bands", "TYPE": "audioFFT", "MAX": 32}
    ],
    "IMPORTED": {"sigil": {"PATH": "../../../shaders/images/moon_sigil.png"}},
    "PASSES": [
        {"TARGET": "grid", "WIDTH": "max(floor($WIDTH / $cells), 1.0)", "HEIGHT": "$HEIGHT / $cells"},
        {"TARGET": "memory", "PERSISTENT": true, "FLOAT": true},
        {}
    ]
}*/

void main() {
    vec2 uv = isf_FragNormCoord;
    if (PASSINDEX == 0) {
        // a coarse grid, one texel per cell: its RENDERSIZE is the expression's
        float cell = mod(floor(gl_FragCoord.x) + floor(gl_FragCoord.y), 2.0);
        gl_FragColor = vec4(vec3(cell) * 0.3 + 0.1, 1.0);
    } else if (PASSINDEX == 1) {
        vec4 last = IMG_THIS_PIXEL(memory);
        float ring = smoothstep(0.02, 0.0, abs(distance(uv, focus) - fract(TIME * 0.5) * 0.5));
        float kick = flash ? 1.0 : 0.0;
        gl_FragColor = max(last * (1.0 - TIMEDELTA * 2.0), vec4(vec3(ring + kick), 1.0));
    } else {
        vec2 p = mirror ? vec2(abs(uv.x - 0.5) + 0.5, uv.y) : uv;
        vec4 grid = IMG_NORM_PIXEL(grid, p);
        vec4 mem = IMG_PIXEL(memory, p * RENDERSIZE);
        vec2 sigilSize = IMG_SIZE(sigil);
        vec4 mark = IMG_NORM_PIXEL(sigil, fract(p * 2.0)) * step(1.0, sigilSize.x);
        float w = IMG_NORM_PIXEL(wave, vec2(p.x, 0.5)).r;
        float line = smoothstep(0.02, 0.0, abs(p.y - w));
        float band = IMG_NORM_PIXEL(bands, vec2(p.x, 0.5)).r;
        float bar = step(p.y, band * 4.0) * 0.4;
        float clock = fract(DATE.w / 60.0) * 0.1 + float(FRAMEINDEX % 2) * 0.02;
        vec3 c = grid.rgb + mem.rgb * glow + mark.rgb * 0.3 + line * tint.rgb + bar * tint.bgr;
        gl_FragColor = vec4(c + clock + vv_FragNormCoord.x * 0.05, 1.0);
    }
}
