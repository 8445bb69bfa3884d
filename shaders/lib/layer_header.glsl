#version 330 core
// Oneiric layer header: prepended to every layer shader in the rig's own dialect.
// The names below are the contract with shader authors (see shaders/README.md).
uniform float u_time;        // show time, seconds
uniform float u_dt;          // seconds since the previous frame
uniform int u_frame;         // frame number
uniform vec2 u_resolution;   // layer size in pixels
uniform sampler2D u_dreamer_data;  // one row per layer, 8 RGBA32F texels
uniform sampler2D u_signals;       // rows: layer * 3 + channel (0 eeg, 1 ecg, 2 resp)
uniform float u_fade;              // 1, or less while this shader crossfades in
in vec2 v_uv;
flat in int v_layer;
out vec4 fragColor;

int dreamer;                                      // layer index, 0-based
vec4 _od(int i) { return texelFetch(u_dreamer_data, ivec2(i, v_layer), 0); }

// @fields: declarations and _oneiric_load(), generated from engine/visuals/fields.py

// The dreamer's raw signal, x in 0..1 across the last few seconds (1 = now), roughly -1..1.
float signal(int channel, float x) {
    vec2 size = vec2(textureSize(u_signals, 0));
    float row = (float(v_layer * 3 + channel) + 0.5) / size.y;
    return texture(u_signals, vec2(clamp(x, 0.0, 1.0) * (size.x - 1.0) / size.x + 0.5 / size.x, row)).r;
}

vec3 hsv2rgb(vec3 c) {
    vec3 p = abs(fract(c.xxx + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0);
    return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash12(i), hash12(i + vec2(1, 0)), u.x),
               mix(hash12(i + vec2(0, 1)), hash12(i + vec2(1, 1)), u.x), u.y);
}

float fbm(vec2 p, int octaves) {
    float s = 0.0, a = 0.5;
    for (int i = 0; i < octaves; ++i) { s += a * noise(p); p = p * 2.03 + 17.1; a *= 0.5; }
    return s;
}
