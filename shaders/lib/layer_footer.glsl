
void main() {
    _oneiric_load();
    fragColor = vec4(clamp(layer(v_uv).rgb, 0.0, 1.0), u_fade);
}
