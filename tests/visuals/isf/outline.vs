// outline.vs: the neighbours of each pixel, worked out once per vertex (VDMX's style:
// declarations for old and new GLSL side by side, the host picks one)
#if __VERSION__ <= 120
varying vec2 left_coord;
varying vec2 right_coord;
varying vec2 above_coord;
varying vec2 below_coord;
varying mat2 rotmat;
varying vec2 texOffsets[2];
#else
out vec2 left_coord;
out vec2 right_coord;
out vec2 above_coord;
out vec2 below_coord;
out mat2 rotmat;
out vec2 texOffsets[2];
#endif
flat out int corner;

void main() {
    isf_vertShaderInit();
    vec2 d = width / RENDERSIZE;
    left_coord = clamp(isf_FragNormCoord - vec2(d.x, 0.0), 0.0, 1.0);
    right_coord = clamp(isf_FragNormCoord + vec2(d.x, 0.0), 0.0, 1.0);
    above_coord = clamp(isf_FragNormCoord + vec2(0.0, d.y), 0.0, 1.0);
    below_coord = clamp(isf_FragNormCoord - vec2(0.0, d.y), 0.0, 1.0);
    rotmat = mat2(1.0, 0.0, 0.0, 1.0);
    texOffsets[0] = vec2(0.0);
    texOffsets[1] = d;
    corner = 1;
}
