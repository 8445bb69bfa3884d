/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Video feedback: each frame over the last, which zooms, turns and fades",
    "CREDIT": "Oneiric",
    "CATEGORIES": ["Feedback"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 0.85, "MIN": 0.0, "MAX": 0.99,
         "LABEL": "how much of the last frame stays"},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 1.02, "MIN": 0.9, "MAX": 1.1},
        {"NAME": "turn", "TYPE": "float", "DEFAULT": 0.01, "MIN": -0.2, "MAX": 0.2,
         "LABEL": "radians a frame"},
        {"NAME": "center", "TYPE": "point2D", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0],
         "MAX": [1.0, 1.0]},
        {"NAME": "clear", "TYPE": "event"}
    ],
    "PASSES": [
        {"TARGET": "trail", "PERSISTENT": true, "FLOAT": true},
        {}
    ]
}*/

void main() {
    vec4 now = IMG_THIS_NORM_PIXEL(inputImage);
    if (PASSINDEX == 0) {
        // where this pixel was last frame: turned and zoomed about the centre
        vec2 p = isf_FragNormCoord - center;
        p.x *= RENDERSIZE.x / RENDERSIZE.y;
        float c = cos(turn), s = sin(turn);
        p = mat2(c, -s, s, c) * p / zoom;
        p.x *= RENDERSIZE.y / RENDERSIZE.x;
        vec2 was = p + center;
        bool inside = all(greaterThanEqual(was, vec2(0.0))) && all(lessThanEqual(was, vec2(1.0)));
        vec4 last = (inside && !clear && FRAMEINDEX > 0) ? IMG_NORM_PIXEL(trail, was) : vec4(0.0);
        gl_FragColor = max(now, last * decay);
    } else {
        gl_FragColor = IMG_THIS_NORM_PIXEL(trail);
    }
}
