/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Turns every hue round the colour wheel and scales saturation and value (HSV)",
    "CREDIT": "Oneiric",
    "CATEGORIES": ["Color Adjustment"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "shift", "TYPE": "float", "DEFAULT": 0.25, "MIN": 0.0, "MAX": 1.0,
         "LABEL": "hue turn (of a full turn)"},
        {"NAME": "saturation", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0}
    ]
}*/

vec3 rgb2hsv(vec3 c) {
    float hi = max(c.r, max(c.g, c.b));
    float lo = min(c.r, min(c.g, c.b));
    float d = hi - lo;
    float h = 0.0;
    if (d > 1e-6) {
        if (hi == c.r) h = mod((c.g - c.b) / d, 6.0);
        else if (hi == c.g) h = (c.b - c.r) / d + 2.0;
        else h = (c.r - c.g) / d + 4.0;
    }
    return vec3(h / 6.0, hi > 1e-6 ? d / hi : 0.0, hi);
}

vec3 hsv2rgb(vec3 c) {
    vec3 k = clamp(abs(mod(c.x * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
    return c.z * mix(vec3(1.0), k, c.y);
}

void main() {
    vec4 src = IMG_THIS_NORM_PIXEL(inputImage);
    vec3 hsv = rgb2hsv(src.rgb);
    hsv.x = fract(hsv.x + shift);
    hsv.y = clamp(hsv.y * saturation, 0.0, 1.0);
    hsv.z *= brightness;
    gl_FragColor = vec4(clamp(hsv2rgb(hsv), 0.0, 1.0), src.a);
}
