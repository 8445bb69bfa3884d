/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Gaussian blur in two passes (across, then down); radius in pixels",
    "CREDIT": "Oneiric",
    "CATEGORIES": ["Blur"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "radius", "TYPE": "float", "DEFAULT": 3.0, "MIN": 0.0, "MAX": 8.0,
         "LABEL": "radius (pixels)"}
    ],
    "PASSES": [
        {"TARGET": "across"},
        {}
    ]
}*/

// weights exp(-i^2 / 2 sigma^2), sigma = radius / 2, taps a pixel apart out to the
// radius; where the image is the output's size each tap lands on a texel centre
vec4 tap(vec2 at) {
    return PASSINDEX == 0 ? IMG_NORM_PIXEL(inputImage, at) : IMG_NORM_PIXEL(across, at);
}

void main() {
    vec2 dir = (PASSINDEX == 0 ? vec2(1.0, 0.0) : vec2(0.0, 1.0)) / RENDERSIZE;
    float sigma = max(radius * 0.5, 1e-3);
    vec4 sum = tap(isf_FragNormCoord);
    float total = 1.0;
    for (int i = 1; i <= 8; ++i) {
        float d = float(i);
        if (d > radius) break;  // a uniform bound: every pixel stops at the same tap
        float w = exp(-0.5 * d * d / (sigma * sigma));
        sum += w * (tap(isf_FragNormCoord + dir * d) + tap(isf_FragNormCoord - dir * d));
        total += 2.0 * w;
    }
    gl_FragColor = sum / total;
}
