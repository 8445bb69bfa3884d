"""MIDI: controller bindings, a byte-stream parser and MIDI learn."""
