/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Code a lenient compiler takes and Mesa refuses: int returns, uint literals, a non-constant const, % on floats",
    "CATEGORIES": ["Generator"],
    "INPUTS": [
        {"NAME": "rings", "TYPE": "float", "DEFAULT": 6.0, "MIN": 1.0, "MAX": 20.0}
    ]
}*/

float steps() {
    return 4;
}

float ring(vec2 p) {
    return
        int(length(p) * rings);
}

void main() {
    uint seed = 7;
    uint next = seed * 3 + 1;
    vec2 p = isf_FragNormCoord - 0.5;
    float r = mod(ring(p), 2.0) / steps() * 3.0;
    float tint = float(next % 5u) / 4.0;
    const float wide = rings * 0.5;
    float band = (p.x * wide) % 1.0;
    gl_FragColor = vec4(r, 0.3 + 0.4 * tint, 1.0 - r * band, 1.0);
}
