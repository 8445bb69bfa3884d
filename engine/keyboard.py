"""The keyboard, as Shadertoy's keyboard texture shows it to a shader.

Shadertoy gives a channel bound to the keyboard a 256 x 3 texture indexed by the
browser's key code (JavaScript `keyCode`: A-Z 65-90, 0-9 48-57, space 32, the arrows
37-40): row 0 is 1 while the key is held, row 1 is 1 on the frame it went down, row 2
flips each time it goes down. Keys arrive as commands (`/key/down CODE`, `/key/up
CODE`, from the live window, OSC or the browser surface), so a session log replays
them; a code may be the number or the key's name (`A`, `space`, `left`).
"""

from __future__ import annotations

import numpy as np

KEYS = 256
# names for keys that are not one character (what GLFW and browsers call them)
NAMED = {
    "backspace": 8, "tab": 9, "enter": 13, "return": 13, "shift": 16, "ctrl": 17,
    "control": 17, "alt": 18, "pause": 19, "capslock": 20, "escape": 27, "esc": 27,
    "space": 32, "pageup": 33, "pagedown": 34, "end": 35, "home": 36, "left": 37,
    "up": 38, "right": 39, "down": 40, "insert": 45, "delete": 46,
    **{f"f{n}": 111 + n for n in range(1, 13)},
}  # fmt: skip
# GLFW's codes for the keys whose JavaScript code differs (letters, digits, space match)
GLFW_TO_JS = {
    256: 27, 257: 13, 258: 9, 259: 8, 260: 45, 261: 46, 262: 39, 263: 37, 264: 40,
    265: 38, 266: 33, 267: 34, 268: 36, 269: 35, 280: 20, 284: 19, 335: 13,
    340: 16, 344: 16, 341: 17, 345: 17, 342: 18, 346: 18,
    **{290 + n: 112 + n for n in range(12)},  # F1-F12
    **{320 + n: 48 + n for n in range(10)},  # the keypad's digits, as the row's
}  # fmt: skip


def key_code(value: object) -> int:
    """A key code from a number (`65`, `"65"`) or a key's name (`"A"`, `"space"`)."""
    text = str(value).strip()
    if text.isdigit():
        code = int(text)
    elif len(text) == 1:
        code = ord(text.upper())
    elif text.lower() in NAMED:
        code = NAMED[text.lower()]
    else:
        raise ValueError(f"{value!r} is not a key: a code 0-255 or a name (A, space, left)")
    if not 0 <= code < KEYS:
        raise ValueError(f"key code {code}: codes are 0-{KEYS - 1}")
    return code


class Keyboard:
    """Which keys are down, which went down this frame, which are toggled on."""

    def __init__(self) -> None:
        self.state = np.zeros((3, KEYS), np.uint8)  # rows: held, pressed now, toggled

    def down(self, code: int) -> None:
        if not self.state[0, code]:  # a key repeating while held is still one press
            self.state[1, code] = 255
            self.state[2, code] ^= 255
        self.state[0, code] = 255

    def up(self, code: int) -> None:
        self.state[0, code] = 0

    def frame_done(self) -> None:
        """A press shows for one frame."""
        self.state[1] = 0

    def held(self, code: int) -> bool:
        return bool(self.state[0, code])
