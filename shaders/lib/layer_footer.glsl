
void main() {
    _oneiric_load();
    fragColor = clamp(layer(v_uv), 0.0, 1.0);
}
