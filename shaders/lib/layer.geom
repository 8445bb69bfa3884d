#version 330 core
// Routes each instance's triangle to its own layer of the texture array.
layout(triangles) in;
layout(triangle_strip, max_vertices = 3) out;
in vec2 g_uv[];
flat in int g_layer[];
out vec2 v_uv;
flat out int v_layer;
void main() {
    for (int i = 0; i < 3; ++i) {
        gl_Layer = g_layer[0];
        v_layer = g_layer[0];
        v_uv = g_uv[i];
        gl_Position = gl_in[i].gl_Position;
        EmitVertex();
    }
    EndPrimitive();
}
