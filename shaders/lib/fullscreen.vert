#version 330 core
// One triangle that covers the viewport; instance i draws into layer u_first + i.
uniform int u_first;
out vec2 g_uv;
flat out int g_layer;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    g_uv = p;
    g_layer = u_first + gl_InstanceID;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
