"""The GL context: a window's where there is a display, headless EGL where there is none."""

from __future__ import annotations

import moderngl

REQUIRED_GL = 330


class GLUnavailable(RuntimeError):
    """No OpenGL 3.3 context could be made; the message says how to get one."""


def headless_context() -> moderngl.Context:
    """An offscreen context: EGL (Mesa llvmpipe on a machine without a GPU)."""
    errors = []
    for backend in ("egl", None):
        try:
            if backend is None:
                return moderngl.create_context(standalone=True, require=REQUIRED_GL)
            return moderngl.create_context(
                standalone=True,
                require=REQUIRED_GL,
                backend=backend,  # type: ignore[arg-type]  # the stub types **settings wrongly
            )
        except Exception as exc:  # glcontext raises plain Exceptions per backend
            errors.append(f"{backend or 'default'}: {exc}")
    raise GLUnavailable(
        "no headless OpenGL 3.3 context ("
        + "; ".join(errors)
        + "). On Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri"
    )


def describe(ctx: moderngl.Context) -> str:
    return f"{ctx.info['GL_RENDERER']} / OpenGL {ctx.info['GL_VERSION']}"
