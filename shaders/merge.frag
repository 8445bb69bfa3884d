#version 330 core
// The dream-merge: every dreamer's layer blended into one image in ONE pass.
//
// The stack is read bottom (slot 0) to top. Per slot the info texture holds
//   texel 0: (layer index in the array, weight, blend mode, unused)
//   texel 1: (home x, home y, unused, unused) in uv units
// Blend modes: 0 add, 1 screen, 2 multiply, 3 dream, 4 lighten, 5 difference.
// "dream" layers expose like light on film: their weighted colours add up in an
// exposure E and come out as 1 - exp(-E * exposure), softly, never clipping; the rest of the
// stack is screened over that glow. A stack whose bottom layer multiplies starts
// from white, any other from black.
//
// resonance (0..1): how much the layers fuse. At 0 each dreamer owns a soft region
// of the image around its home; at 1 every layer covers the whole frame.
// chaos (0..1): the malfunction. Layers tear into each other: each is displaced by
// its neighbour's colour, shattered in blocks and split by channel.
// Layer count is a uniform: the shader has no layer limit of its own.
// The rig compiles this file twice, with CHAOS 0 and 1: on a CPU rasteriser even an
// untaken chaos branch costs about 3x the whole merge, so calm frames skip it.
#ifndef CHAOS
#define CHAOS 1
#endif

uniform sampler2DArray u_layers;
uniform sampler2D u_info;
uniform int u_count;
uniform float u_resonance;
uniform float u_chaos;
uniform float u_exposure;  // gain on the dream layers' exposure (1 = as is)
uniform float u_time;
uniform vec2 u_resolution;
uniform bool u_flip;      // write the top row first (for readback in video order)

in vec2 v_uv;
out vec4 fragColor;

uint hash_u(uint x) {
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}
float hash3(ivec3 p) {
    uint h = hash_u(uint(p.x) * 73856093u ^ hash_u(uint(p.y) * 19349663u ^ hash_u(uint(p.z) * 83492791u)));
    return float(h) / 4294967295.0;
}

vec3 fetch_layer(float layer, vec2 uv) {
    return texture(u_layers, vec3(uv, layer)).rgb;
}

// What layer `slot` contributes at uv, torn by chaos.
vec3 sample_slot(int slot, float layer, vec2 uv) {
#if CHAOS == 0
    return fetch_layer(layer, uv);
#else
    float c = u_chaos;
    int beat = int(floor(u_time * 12.0));
    // block tearing: some blocks of this layer jump sideways for a few frames
    ivec2 block = ivec2(floor(uv * vec2(16.0, 9.0) * (1.0 + floor(hash3(ivec3(slot, beat, 7)) * 3.0))));
    float h = hash3(ivec3(block, beat * 64 + slot));
    vec2 tear = h < c * 0.5
        ? (vec2(hash3(ivec3(block, slot + 11)), hash3(ivec3(block.yx, slot + 23))) - 0.5) * 0.35 * c
        : vec2(0.0);
    // cross-layer displacement: the next dreamer's image pushes this one around
    int next = (slot + 1) % u_count;
    float next_layer = texelFetch(u_info, ivec2(0, next), 0).x;
    vec2 push = (fetch_layer(next_layer, uv).rg - 0.5) * 0.25 * c;
    vec2 p = uv + tear + push;
    vec2 split = vec2(0.012 * c * (h - 0.5) * 4.0, 0.0);
    vec3 col = vec3(fetch_layer(layer, fract(p + split)).r,
                    fetch_layer(layer, fract(p)).g,
                    fetch_layer(layer, fract(p - split)).b);
    return col;
#endif
}

vec3 blend(int mode, vec3 acc, vec3 c, float w) {
    if (mode == 0) return acc + w * c;
    if (mode == 1) return acc + w * c * (1.0 - acc);
    if (mode == 2) return mix(acc, acc * c, w);
    if (mode == 4) return mix(acc, max(acc, c), w);
    if (mode == 5) return mix(acc, abs(acc - c), w);
    return acc;
}

void main() {
    vec2 uv = u_flip ? vec2(v_uv.x, 1.0 - v_uv.y) : v_uv;
    float aspect = u_resolution.x / u_resolution.y;
    // soft partition of the frame among the dreamers' homes (for resonance < 1)
    float sigma = 0.55 / sqrt(float(max(u_count, 1)));
    float inv2s2 = 1.0 / (2.0 * sigma * sigma);
    float d2_min = 1e30, mask_sum = 0.0;
    if (u_resonance < 1.0) {
        // softmax of -distance^2, shifted by the nearest home so it never underflows
        for (int i = 0; i < u_count; ++i) {
            vec2 d = (uv - texelFetch(u_info, ivec2(1, i), 0).xy) * vec2(aspect, 1.0);
            d2_min = min(d2_min, dot(d, d));
        }
        for (int i = 0; i < u_count; ++i) {
            vec2 d = (uv - texelFetch(u_info, ivec2(1, i), 0).xy) * vec2(aspect, 1.0);
            mask_sum += exp(-(dot(d, d) - d2_min) * inv2s2);
        }
    }
    int first_mode = int(texelFetch(u_info, ivec2(0, 0), 0).z + 0.5);
    vec3 acc = vec3(u_count > 0 && first_mode == 2 ? 1.0 : 0.0);
    vec3 exposure = vec3(0.0);
    for (int i = 0; i < u_count; ++i) {
        vec4 info = texelFetch(u_info, ivec2(0, i), 0);
        float w = info.y;
        if (w <= 0.0) continue;
        if (u_resonance < 1.0) {
            vec2 d = (uv - texelFetch(u_info, ivec2(1, i), 0).xy) * vec2(aspect, 1.0);
            float own = exp(-(dot(d, d) - d2_min) * inv2s2) / mask_sum;
            w *= mix(own, 1.0, u_resonance);
        }
        int mode = int(info.z + 0.5);
        vec3 c = sample_slot(i, info.x, uv);
        if (mode == 3) exposure += w * c;
        else acc = blend(mode, acc, c, w);
    }
    vec3 glow = 1.0 - exp(-exposure * u_exposure);
    vec3 outc = 1.0 - (1.0 - clamp(acc, 0.0, 1.0)) * (1.0 - glow);
    fragColor = vec4(outc, 1.0);
}
