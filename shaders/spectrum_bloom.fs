/*{
    "DESCRIPTION": "Spectrum bloom: the music as a flower. Each petal is a band of the spectrum (audioFFT): low notes at the top, high notes around the sides; loud bands open their petals.",
    "CREDIT": "Oneiric",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Audio Reactive", "Oneiric"],
    "INPUTS": [
        {"NAME": "fft", "TYPE": "audioFFT", "MAX": 64},
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 2.5, "MIN": 0.0, "MAX": 10.0},
        {"NAME": "mirror", "TYPE": "bool", "LABEL": "mirror left and right", "DEFAULT": true},
        {"NAME": "petal", "TYPE": "color", "DEFAULT": [0.95, 0.4, 0.7, 1.0]},
        {"NAME": "heart", "TYPE": "color", "LABEL": "centre", "DEFAULT": [1.0, 0.85, 0.45, 1.0]}
    ]
}*/

// Angle around the centre picks a spectrum band (64 of them, squared so that the low notes
// get more of the flower than the hiss at the top); the band's loudness pushes
// the flower's edge out. With `mirror` the flower is symmetric (both sides show the same
// bands); without, the bands run once around. The centre glows with the low end and,
// if the author's dreamer is breathing in (oneiric_breath), a little more.

float band(float x) {
    x = clamp(x, 0.0, 1.0);
    return IMG_NORM_PIXEL(fft, vec2(x * x * 0.4 + 0.002, 0.5)).r;   // 0 .. ~10 kHz
}

void main() {
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(RENDERSIZE.x / RENDERSIZE.y, 1.0);
    float r = length(p);
    float a = atan(p.x, p.y) / 3.14159;                       // 0 at the top, -1..1
    float x = mirror ? abs(a) : a * 0.5 + 0.5;
    float level = sqrt(band(x) * gain);                       // sqrt: quiet bands still show
    float edge = 0.12 + 0.26 * min(level, 1.2) + 0.015 * sin(a * 40.0 + TIME * 2.0);
    float inside = smoothstep(edge + 0.01, edge - 0.01, r);
    float rim = exp(-abs(r - edge) * 60.0);
    float low = sqrt(band(0.02) * gain);
    float out_ = r / max(edge, 0.01);                        // 0 at the centre, 1 at the edge
    vec3 fill = mix(heart.rgb, petal.rgb, smoothstep(0.0, 0.7, out_));
    vec3 col = fill * inside * (0.25 + 0.5 * out_) + petal.rgb * rim * 0.6;
    col += heart.rgb * exp(-r * (14.0 - 6.0 * min(low, 1.0) - 2.0 * oneiric_breath)) * 0.45;
    col += vec3(0.03, 0.02, 0.06) * (1.0 - r);
    gl_FragColor = vec4(col, 1.0);
}
