/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Edges drawn over the picture: a filter with a companion vertex shader",
    "CATEGORIES": ["Stylize"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "amount", "TYPE": "float", "DEFAULT": 0.8, "MIN": 0.0, "MAX": 1.0},
        {"NAME": "width", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.5, "MAX": 4.0}
    ]
}*/

#if __VERSION__ <= 120
varying vec2 left_coord;
varying vec2 right_coord;
varying vec2 above_coord;
varying vec2 below_coord;
varying mat2 rotmat;
varying vec2 texOffsets[2];
#else
in vec2 left_coord;
in vec2 right_coord;
in vec2 above_coord;
in vec2 below_coord;
in mat2 rotmat;
in vec2 texOffsets[2];
#endif
flat in int corner;
uniform float TIME;  // declared here as well: the host must not declare it twice

void main() {
    vec2 here = rotmat * isf_FragNormCoord + texOffsets[0];
    vec4 color = IMG_NORM_PIXEL(inputImage, here, 0.0);
    vec4 dx = IMG_NORM_PIXEL(inputImage, right_coord) - IMG_NORM_PIXEL(inputImage, left_coord);
    vec4 dy = IMG_NORM_PIXEL(inputImage, above_coord) - IMG_NORM_PIXEL(inputImage, below_coord);
    float edge = clamp(length(dx.rgb) + length(dy.rgb), 0.0, 1.0);
    // ISF v1's image uniforms: the whole texture, upright
    bool whole = _inputImage_imgRect == vec4(0.0, 0.0, 1.0, 1.0) && !_inputImage_flip;
    bool sized = _inputImage_imgSize == IMG_SIZE(inputImage);
    vec3 ink = (whole && sized && corner == 1) ? vec3(1.0) : vec3(1.0, 0.0, 0.0);
    gl_FragColor = vec4(mix(color.rgb, ink * edge, amount), 1.0);
}
