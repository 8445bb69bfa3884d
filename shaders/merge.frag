#version 330 core
// The dream-merge: every dreamer's layer blended into one image in ONE pass.
//
// The stack is read bottom to top: slot i is layer i of the array. Per slot the
// Slots block holds (weight, blend mode, home x, home y), homes in uv units. A
// uniform block, not a texture: on a CPU rasteriser a texelFetch per layer per
// pixel costs more than the layer itself.
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
// The rig compiles variants of this file: on a CPU rasteriser even an untaken
// branch costs its full price, so what a frame does not use is compiled out.
//   CHAOS 0/1: the malfunction code (about 3x the whole merge when present);
//   MASKS 0/1: the resonance regions (0 when resonance is 1);
//   MODE -1: each slot has its own blend mode; 0..5: every slot uses this one.
#ifndef CHAOS
#define CHAOS 1
#endif
#ifndef MASKS
#define MASKS 1
#endif
#ifndef MODE
#define MODE -1
#endif
//   EXACT 1: layers are the output's size, so a layer's pixel is read, not filtered.
//   UNROLL 1: eight slots an iteration (the rig sets it for exact layers with neither
//     masks nor chaos, at 8 layers or more: there it runs about 1.7x faster; with
//     filtered reads, masks or chaos the bigger loop is slower, so it stays off).
#ifndef EXACT
#define EXACT 0
#endif
#ifndef UNROLL
#define UNROLL 0
#endif
#ifndef MAX_SLOTS
#define MAX_SLOTS 512  // the rig sets this from the driver's uniform block size
#endif

uniform sampler2DArray u_layers;
#if EXACT
uniform sampler2DArray u_exact;  // the same layers through a nearest-filter sampler
#endif
layout(std140) uniform Slots { vec4 u_slots[MAX_SLOTS]; };
uniform int u_count;
// @params
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

// This pixel of a layer: when sizes match (EXACT), the texel itself, read through a
// nearest sampler at its centre (llvmpipe's fastest path: faster than texelFetch, as
// bench/bench_render.py shows); else filtered.
vec3 this_pixel(int layer, vec2 uv) {
#if EXACT
    return texture(u_exact, vec3(uv, float(layer))).rgb;
#else
    return fetch_layer(float(layer), uv);
#endif
}

// What layer `slot` contributes at uv, torn by chaos.
vec3 sample_slot(int slot, vec2 uv) {
    float layer = float(slot);
#if CHAOS == 0
    return this_pixel(slot, uv);
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
    vec2 push = (fetch_layer(float((slot + 1) % u_count), uv).rg - 0.5) * 0.25 * c;
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

// What the stack holds so far; per-pixel values the slots share (set once in main).
struct Stack { vec3 acc; vec3 keep; vec3 exposure; };  // keep = 1 - acc (MODE 1)
vec2 g_uv;
float g_aspect, g_d2_min, g_inv2s2, g_mask_sum;

// Slot i onto the stack.
void take(int i, inout Stack s) {
    vec4 slot = u_slots[i];
    float w = slot.x;
    // no early `continue` for muted slots: a weight of 0 leaves every blend as it
    // was, and on a CPU rasteriser the divergent branch costs more than the blend
#if MASKS
    vec2 d = (g_uv - slot.zw) * vec2(g_aspect, 1.0);
    float own = exp(-(dot(d, d) - g_d2_min) * g_inv2s2) / g_mask_sum;
    w *= mix(own, 1.0, u_resonance);
#endif
#if MODE >= 0
    const int mode = MODE;
#else
    int mode = int(slot.y + 0.5);
#endif
    vec3 c = sample_slot(i, g_uv);
#if MODE == 1
    s.keep *= 1.0 - w * c;  // screen as what is left unlit: the same values, fewer steps
#else
    if (mode == 3) s.exposure += w * c;
    else s.acc = blend(mode, s.acc, c, w);
#endif
}

void main() {
    vec2 uv = u_flip ? vec2(v_uv.x, 1.0 - v_uv.y) : v_uv;
    float aspect = u_resolution.x / u_resolution.y;
    // soft partition of the frame among the dreamers' homes (for resonance < 1)
    float sigma = 0.55 / sqrt(float(max(u_count, 1)));
    float inv2s2 = 1.0 / (2.0 * sigma * sigma);
    float d2_min = 1e30, mask_sum = 0.0;
#if MASKS
    {
        // softmax of -distance^2, shifted by the nearest home so it never underflows
        for (int i = 0; i < u_count; ++i) {
            vec2 d = (uv - u_slots[i].zw) * vec2(aspect, 1.0);
            d2_min = min(d2_min, dot(d, d));
        }
        for (int i = 0; i < u_count; ++i) {
            vec2 d = (uv - u_slots[i].zw) * vec2(aspect, 1.0);
            mask_sum += exp(-(dot(d, d) - d2_min) * inv2s2);
        }
    }
#endif
    g_uv = uv;
    g_aspect = aspect;
    g_d2_min = d2_min;
    g_inv2s2 = inv2s2;
    g_mask_sum = mask_sum;
#if MODE >= 0
    int first_mode = MODE;
#else
    int first_mode = int(u_slots[0].y + 0.5);
#endif
    Stack s = Stack(vec3(u_count > 0 && first_mode == 2 ? 1.0 : 0.0), vec3(1.0), vec3(0.0));
    int i = 0;
#if UNROLL
    // llvmpipe cannot unroll a loop over a uniform count itself
    for (; i + 7 < u_count; i += 8) {
        take(i, s); take(i + 1, s); take(i + 2, s); take(i + 3, s);
        take(i + 4, s); take(i + 5, s); take(i + 6, s); take(i + 7, s);
    }
#endif
    for (; i < u_count; ++i) take(i, s);
#if MODE == 1
    s.acc = 1.0 - s.keep;
#endif
    vec3 glow = 1.0 - exp(-s.exposure * u_exposure);
    vec3 outc = 1.0 - (1.0 - clamp(s.acc, 0.0, 1.0)) * (1.0 - glow);
    fragColor = vec4(outc, 1.0);
}
