"""A window on a display (GLFW): fullscreen on a projector, keys for the VJ.

Where there is no display the rig runs headless on EGL instead (see
engine.visuals.context); nothing else in the rig knows the difference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import moderngl

from engine.keyboard import GLFW_TO_JS, KEYS
from engine.visuals.shaders import compile_program, lib

BLIT = """
#version 330 core
uniform sampler2D u_image;
uniform vec2 u_scale;  // letterbox: the image's share of the window on each axis
in vec2 v_uv;
out vec4 fragColor;
void main() {
    vec2 p = (v_uv - 0.5) / u_scale + 0.5;
    if (any(lessThan(p, vec2(0.0))) || any(greaterThan(p, vec2(1.0)))) {
        fragColor = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    fragColor = vec4(texture(u_image, vec2(p.x, 1.0 - p.y)).rgb, 1.0);  // top row first
}
"""


class WindowUnavailable(RuntimeError):
    pass


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class Keys:
    """What the VJ pressed since the last poll."""

    pressed: list[str] = field(default_factory=list)
    # (JavaScript key code, down?) for Shadertoy's keyboard channel
    changes: list[tuple[int, bool]] = field(default_factory=list)


class Window:
    def __init__(
        self,
        size: tuple[int, int],
        *,
        fullscreen: bool = False,
        monitor: int = 0,
        title: str = "Oneiric",
        vsync: bool = True,
    ) -> None:
        try:
            import glfw
        except ImportError as exc:  # pragma: no cover - glfw is a dependency
            raise WindowUnavailable(f"glfw is not installed: {exc}") from None
        self._glfw = glfw
        if not glfw.init():
            raise WindowUnavailable("GLFW could not start (no display?)")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        monitors = glfw.get_monitors() or []
        target = None
        if fullscreen:
            if not monitors:
                glfw.terminate()
                raise WindowUnavailable("no monitor for fullscreen")
            target = monitors[min(monitor, len(monitors) - 1)]
            mode = glfw.get_video_mode(target)
            size = (mode.size.width, mode.size.height)
        self._window = glfw.create_window(size[0], size[1], title, target, None)
        if not self._window:
            glfw.terminate()
            raise WindowUnavailable("GLFW could not open an OpenGL 3.3 core window")
        glfw.make_context_current(self._window)
        glfw.swap_interval(1 if vsync else 0)
        self.ctx = moderngl.create_context()
        self._keys = Keys()
        glfw.set_key_callback(self._window, self._on_key)
        self._blit = compile_program(
            self.ctx, Path("window-blit"), vertex=lib("quad.vert"), fragment=BLIT
        )
        self._vao = self.ctx.vertex_array(self._blit, [])

    def _on_key(self, _window: object, key: int, _scancode: int, action: int, _mods: int) -> None:
        code = GLFW_TO_JS.get(key, key)
        if 0 <= code < KEYS and action in (self._glfw.PRESS, self._glfw.RELEASE):
            self._keys.changes.append((code, action == self._glfw.PRESS))
        if action == self._glfw.PRESS:
            name = self._glfw.get_key_name(key, 0) or {
                self._glfw.KEY_ESCAPE: "escape",
                self._glfw.KEY_SPACE: "space",
                self._glfw.KEY_TAB: "tab",
            }.get(key, "")
            if name:
                self._keys.pressed.append(name)

    @property
    def size(self) -> tuple[int, int]:
        w, h = self._glfw.get_framebuffer_size(self._window)
        return int(w), int(h)

    def poll(self) -> list[str]:
        self._glfw.poll_events()
        keys, self._keys.pressed = self._keys.pressed, []
        return keys

    def key_changes(self) -> list[tuple[int, bool]]:
        """Keys that went down or up since the last call: (JavaScript code, down?)."""
        changes, self._keys.changes = self._keys.changes, []
        return changes

    @property
    def closing(self) -> bool:
        return bool(self._glfw.window_should_close(self._window))

    def present(self, image: moderngl.Texture) -> None:
        """Draw a top-row-first image letterboxed into the window and show it."""
        w, h = self.size
        iw, ih = image.size
        fit = min(w / iw, h / ih)
        self.ctx.screen.use()
        self.ctx.viewport = (0, 0, w, h)
        image.use(0)
        self._blit["u_image"].value = 0  # type: ignore[union-attr]
        self._blit["u_scale"].value = (iw * fit / w, ih * fit / h)  # type: ignore[union-attr]
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        self._glfw.swap_buffers(self._window)

    def close(self) -> None:
        self._vao.release()
        self._blit.release()
        self._glfw.destroy_window(self._window)
        self._glfw.terminate()
