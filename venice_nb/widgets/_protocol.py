"""The painter's one table of tools and keys, and the messages between its two halves.

Both sides read this module: the kernel validates and dispatches the browser's messages with it,
and the browser reads ``_js/protocol.js``, which is generated from it
(``python -m venice_nb.widgets._protocol`` rewrites it; a test fails when it is out of date).
Nothing about a tool, a key or a message is written down anywhere else.

To add a tool (e.g. a click-to-select one): one ``Tool`` row below (label, icon, key, and its
gesture in the browser: ``click`` sends one point, ``drag`` / ``lasso`` / ``polygon`` an outline),
a handler for its name in ``MaskPainter._click_tools`` (``(x, y)`` in canvas px; the painter's
``_view.to_image`` maps them to the image) or ``MaskPainter._shape_tools``, then
``python -m venice_nb.widgets._protocol`` to regenerate ``protocol.js``. The toolbar button, its
tooltip, the key, the keys help and the browser's gesture follow from the row; a unit test fails
if a tool or key has no handler.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict, get_args, get_origin, get_type_hints

from .._exceptions import ValidationError

__all__ = ["KEYS", "KEY_HELP", "TOOLS", "Key", "ToKernel", "Tool", "bundle", "parse"]

Gesture = Literal["paint", "drag", "lasso", "polygon", "click", "select", "pan"]


@dataclass(frozen=True)
class Tool:
    """One painter tool: its toolbar button, its key and what the pointer does with it.

    ``gesture``: ``paint`` strokes (brush, eraser), ``drag`` a box (rect, ellipse), ``lasso`` a
    freehand outline, ``polygon`` clicked corners, ``click`` one point, ``select`` one point
    with Alt/Shift held or not (the selection tools), ``pan`` moves the view. Drag, lasso and
    polygon tools send a ``shape`` message, click tools ``click``, select tools ``select``.
    """

    name: str
    label: str
    icon: str  # Font Awesome 4 name, as ipywidgets buttons take it
    tip: str
    key: str
    gesture: Gesture
    shape: bool = False  # True: "subtract" (X) applies to it


TOOLS: tuple[Tool, ...] = (
    Tool("brush", "Brush", "paint-brush", "Paint the area to change", "b", "paint"),
    Tool("eraser", "Eraser", "eraser", "Erase from the mask", "e", "paint"),
    Tool("bucket", "Bucket", "tint", "Fill the contiguous area of similar colour", "g", "click",
         shape=True),
    Tool("rect", "Rect", "square-o", "Drag a rectangle", "r", "drag", shape=True),
    Tool("ellipse", "Ellipse", "circle-o", "Drag an ellipse", "o", "drag", shape=True),
    Tool("lasso", "Lasso", "pencil", "Draw a freehand outline", "l", "lasso", shape=True),
    Tool("polygon", "Polygon", "star-o", "Click corners; Enter or double-click closes", "p",
         "polygon", shape=True),
    # Selection tools (widgets/_selecting.py): a ``select`` message carries Alt/Shift.
    Tool("color", "Colour", "magic", "Select similar colours; Colour tol. changes it live",
         "w", "select"),
    Tool("object", "Object", "crosshairs",
         "Click an object to select it; more clicks add, Alt/Shift-click excludes", "q", "select"),
    Tool("subject", "Subject", "user", "Click to select the photo's main subject", "u",
         "select"),
    Tool("hand", "Hand", "hand-paper-o", "Drag to pan; Space+drag and middle-drag pan too", "h",
         "pan"),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)


@dataclass(frozen=True)
class Key:
    """A key (``KeyboardEvent.key``, lower case; ``ctrl+`` / ``ctrl+shift+`` prefixes) and its
    action. ``tool:NAME`` actions and those in ``BROWSER_ACTIONS`` run in the browser at once;
    the rest go to the kernel as an ``action`` message."""

    key: str
    action: str
    shown: str  # how the help names the key
    help: str


_OTHER_KEYS: tuple[Key, ...] = (
    Key(" ", "pan_hold", "Space+drag", "pan"),
    Key("[", "smaller", "[ ]", "brush size"),
    Key("]", "bigger", "[ ]", "brush size"),
    Key("{", "softer", "{ }", "hardness"),
    Key("}", "harder", "{ }", "hardness"),
    Key("+", "zoom_in", "+ −", "zoom"),
    Key("=", "zoom_in", "+ −", "zoom"),
    Key("-", "zoom_out", "+ −", "zoom"),
    Key("_", "zoom_out", "+ −", "zoom"),
    Key("0", "fit", "0", "fit"),
    Key("1", "actual", "1", "100%"),
    Key("x", "subtract", "X", "add/subtract"),
    Key("i", "invert", "I", "invert"),
    Key("f", "fill", "F", "fill all"),
    Key("delete", "clear", "Delete", "clear"),
    Key("backspace", "clear", "Delete", "clear"),
    Key("enter", "close", "Enter", "closes a polygon"),
    Key("escape", "leave", "Escape", "leaves"),
    Key("ctrl+z", "undo", "Ctrl+Z", "undo"),
    Key("ctrl+shift+z", "redo", "Ctrl+Shift+Z / Ctrl+Y", "redo"),
    Key("ctrl+y", "redo", "Ctrl+Shift+Z / Ctrl+Y", "redo"),
)
KEYS: tuple[Key, ...] = (
    *(Key(t.key, f"tool:{t.name}", t.key.upper(), t.name) for t in TOOLS),
    *_OTHER_KEYS,
)
# Actions the browser runs itself: a kernel round trip would be felt (or the kernel has no part).
BROWSER_ACTIONS = ("pan_hold", "zoom_in", "zoom_out", "fit", "actual", "close", "leave")
ZOOM_STEP = 1.25  # + and − (keys, buttons and the browser's optimistic view) scale by this


def key_for(action: str) -> str:
    """How the help names the key of ``action`` (for tooltips: "Undo (Ctrl+Z)")."""
    return next(k.shown for k in KEYS if k.action == action)


def key_help() -> str:
    """The keys, in words, for the painter's help and its accessible name."""
    seen: dict[str, str] = {}
    for k in KEYS:
        if k.shown not in seen and k.action != "leave":  # the preamble says Escape
            seen[k.shown] = k.help
    listed = " · ".join(f"{shown} {what}" for shown, what in seen.items())
    return f"Keys (click the image first; Tab or Escape leaves it): {listed}"


KEY_HELP = key_help()


# --------------------------------------------------------------------------- messages
# Browser -> kernel. Canvas coordinates are CSS pixels of the canvas (``view_size``).
class Hello(TypedDict):
    t: Literal["hello"]
    dpr: float


class Stroke(TypedDict):
    t: Literal["stroke"]
    id: int
    pts: list[list[float]]  # [x, y, pressure] per point
    end: bool


class Shape(TypedDict):
    t: Literal["shape"]
    tool: str
    pts: list[list[float]]  # [x, y] per point: a drag's two corners, or an outline


class Click(TypedDict):
    t: Literal["click"]
    tool: str
    x: float
    y: float


class Select(TypedDict):
    t: Literal["select"]
    tool: str
    x: float
    y: float
    exclude: bool  # Alt or Shift held: object select marks what is not the object


class Zoom(TypedDict):
    t: Literal["zoom"]
    f: float
    x: float
    y: float
    seq: int


class ZoomTo(TypedDict):
    t: Literal["zoomto"]
    to: float  # canvas px per image px; 0 means "fit"
    x: float
    y: float
    seq: int


class Pan(TypedDict):
    t: Literal["pan"]
    dx: float
    dy: float
    seq: int


class Action(TypedDict):
    t: Literal["action"]
    name: str


class MaskFile(TypedDict):
    t: Literal["mask_file"]
    name: str
    size: int  # bytes; the bytes come as the message's one buffer (none when too big)


class SaveMask(TypedDict):
    t: Literal["save_mask"]


ToKernel = (Hello | Stroke | Shape | Click | Select | Zoom | ZoomTo | Pan | Action | MaskFile
            | SaveMask)


# Kernel -> browser.
class Rendered(TypedDict):
    """Sent just before the kernel draws view change ``seq``."""

    t: Literal["rendered"]
    seq: int


class Committed(TypedDict):
    """Sent just before the kernel draws stroke ``id`` into the overlay."""

    t: Literal["committed"]
    id: int


class Reset(TypedDict):
    """A new image: drop previews, pending view changes and the open polygon."""

    t: Literal["reset"]


class MaskPng(TypedDict):
    t: Literal["mask_png"]
    name: str  # the PNG comes as the message's one buffer


ToBrowser = Rendered | Committed | Reset | MaskPng

_MAX_POINTS = 100_000  # one message; a long lasso at 240 Hz for a minute is 15k


def _members(union: object) -> dict[str, type]:
    out: dict[str, type] = {}
    for cls in get_args(union):
        (kind,) = get_args(get_type_hints(cls)["t"])
        out[kind] = cls
    return out


TO_KERNEL = _members(ToKernel)
TO_BROWSER = _members(ToBrowser)
_FIELDS = {kind: get_type_hints(cls) for kind, cls in TO_KERNEL.items()}  # parse() runs often


def _fits(value: object, hint: object) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str) and len(value) <= 1000
    if get_origin(hint) is Literal:
        return value in get_args(hint)
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        return (isinstance(value, list) and len(value) <= _MAX_POINTS
                and all(_fits(v, item) for v in value))
    raise TypeError(f"no check for {hint!r}")


def parse(msg: object) -> ToKernel:
    """The browser's message, checked against its type (the browser is a remote caller)."""
    if not isinstance(msg, dict) or msg.get("t") not in TO_KERNEL:
        raise ValidationError(f"unknown painter message {str(msg)[:80]!r}",
                              action="reload the page so the painter's browser code matches")
    bad = [k for k, h in _FIELDS[msg["t"]].items() if k not in msg or not _fits(msg[k], h)]
    if bad:
        raise ValidationError(f"painter message {msg['t']!r} has bad fields {bad}",
                              action="reload the page so the painter's browser code matches")
    return msg  # type: ignore[return-value]  # checked field by field above


# ------------------------------------------------------------------ the browser's copy
def _js_type(hint: object) -> str:
    if hint is bool:
        return "boolean"
    if hint in (int, float):
        return "number"
    if hint is str:
        return "string"
    if get_origin(hint) is Literal:
        return " | ".join(json.dumps(a) for a in get_args(hint))
    if get_origin(hint) is list:
        return f"{_js_type(get_args(hint)[0])}[]"
    raise TypeError(f"no JS type for {hint!r}")


def _typedefs(members: dict[str, type], union: str) -> list[str]:
    lines = []
    for cls in members.values():
        fields = ", ".join(f"{k}: {_js_type(h)}" for k, h in get_type_hints(cls).items())
        lines.append(f"/** @typedef {{{{{fields}}}}} {cls.__name__}Msg */")
    names = " | ".join(f"{cls.__name__}Msg" for cls in members.values())
    lines.append(f"/** @typedef {{{names}}} {union} */")
    return lines


def javascript() -> str:
    """The text of ``_js/protocol.js``."""
    tools = [{"name": t.name, "key": t.key, "gesture": t.gesture} for t in TOOLS]
    keys = {k.key: k.action for k in KEYS}
    names = " | ".join(json.dumps(n) for n in TOOL_NAMES)
    gestures = " | ".join(json.dumps(g) for g in get_args(Gesture))
    return "\n".join([
        "// Generated from venice_nb/widgets/_protocol.py by",
        "// `python -m venice_nb.widgets._protocol`: edit that file, not this one.",
        "",
        f"/** @typedef {{{names}}} ToolName */",
        f"/** @typedef {{{gestures}}} Gesture */",
        "/** @typedef {{name: ToolName, key: string, gesture: Gesture}} ToolSpec */",
        *_typedefs(TO_KERNEL, "ToKernel"),
        *_typedefs(TO_BROWSER, "ToBrowser"),
        "",
        "/** @type {readonly ToolSpec[]} */",
        f"export const TOOLS = {json.dumps(tools)};",
        "/** @type {Readonly<Record<string, string>>} */",
        f"export const KEYS = {json.dumps(keys)};",
        "/** @type {readonly string[]} */",
        f"export const BROWSER_ACTIONS = {json.dumps(list(BROWSER_ACTIONS))};",
        f"export const ZOOM_STEP = {ZOOM_STEP};",
        "",
    ])


JS_DIR = Path(__file__).with_name("_js")
# The painter's browser modules, in the order they are joined (each only uses earlier ones).
PAINTER_MODULES = ("protocol.js", "widgets.js", "preview.js", "viewchanges.js", "surface.js")


def bundle(modules: tuple[str, ...]) -> str:
    """One ES module from ``modules`` (anywidget loads one): each file's relative ``import``
    lines are dropped and its ``export`` keywords removed, except the last file's default.

    The files stay real ES modules, so ``tsc`` checks them as they are; this join is all the
    build there is (nothing for users to install)."""
    parts = []
    for i, name in enumerate(modules):
        text = (JS_DIR / name).read_text(encoding="utf-8")
        out = []
        for line in text.splitlines():
            if line.startswith("import ") and ' from "./' in line:
                continue
            if line.startswith("export ") and not (
                i == len(modules) - 1 and line.startswith("export default")
            ):
                line = line[len("export "):]
            out.append(line)
        parts.append(f"// ---- {name}\n" + "\n".join(out))
    return "\n".join(parts)


if __name__ == "__main__":  # regenerate the browser's copy
    (JS_DIR / "protocol.js").write_text(javascript(), encoding="utf-8")
    print(f"wrote {JS_DIR / 'protocol.js'}", file=sys.stderr)

