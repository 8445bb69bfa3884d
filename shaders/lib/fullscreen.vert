#version 330 core
// One triangle that covers the viewport; instance i of a draw fills the layer listed
// at u_first + i in u_order, so dreamers sharing a shader need not be neighbours.
uniform int u_first;
uniform sampler2D u_order;  // one row of layer indices, grouped draw by draw
out vec2 g_uv;
flat out int g_layer;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    g_uv = p;
    g_layer = int(texelFetch(u_order, ivec2(u_first + gl_InstanceID, 0), 0).r + 0.5);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
