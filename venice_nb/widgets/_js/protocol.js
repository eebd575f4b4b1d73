// Generated from venice_nb/widgets/_protocol.py by
// `python -m venice_nb.widgets._protocol`: edit that file, not this one.

/** @typedef {"brush" | "eraser" | "bucket" | "rect" | "ellipse" | "lasso" | "polygon" | "color" | "object" | "subject" | "hand"} ToolName */
/** @typedef {"paint" | "drag" | "lasso" | "polygon" | "click" | "select" | "pan"} Gesture */
/** @typedef {{name: ToolName, key: string, gesture: Gesture}} ToolSpec */
/** @typedef {{t: "hello", dpr: number}} HelloMsg */
/** @typedef {{t: "stroke", id: number, pts: number[][], end: boolean}} StrokeMsg */
/** @typedef {{t: "shape", tool: string, pts: number[][]}} ShapeMsg */
/** @typedef {{t: "click", tool: string, x: number, y: number}} ClickMsg */
/** @typedef {{t: "select", tool: string, x: number, y: number, exclude: boolean}} SelectMsg */
/** @typedef {{t: "zoom", f: number, x: number, y: number, seq: number}} ZoomMsg */
/** @typedef {{t: "zoomto", to: number, x: number, y: number, seq: number}} ZoomToMsg */
/** @typedef {{t: "pan", dx: number, dy: number, seq: number}} PanMsg */
/** @typedef {{t: "action", name: string}} ActionMsg */
/** @typedef {{t: "mask_file", name: string, size: number}} MaskFileMsg */
/** @typedef {{t: "save_mask"}} SaveMaskMsg */
/** @typedef {HelloMsg | StrokeMsg | ShapeMsg | ClickMsg | SelectMsg | ZoomMsg | ZoomToMsg | PanMsg | ActionMsg | MaskFileMsg | SaveMaskMsg} ToKernel */
/** @typedef {{t: "rendered", seq: number}} RenderedMsg */
/** @typedef {{t: "committed", id: number}} CommittedMsg */
/** @typedef {{t: "reset"}} ResetMsg */
/** @typedef {{t: "mask_png", name: string}} MaskPngMsg */
/** @typedef {RenderedMsg | CommittedMsg | ResetMsg | MaskPngMsg} ToBrowser */

/** @type {readonly ToolSpec[]} */
export const TOOLS = [{"name": "brush", "key": "b", "gesture": "paint"}, {"name": "eraser", "key": "e", "gesture": "paint"}, {"name": "bucket", "key": "g", "gesture": "click"}, {"name": "rect", "key": "r", "gesture": "drag"}, {"name": "ellipse", "key": "o", "gesture": "drag"}, {"name": "lasso", "key": "l", "gesture": "lasso"}, {"name": "polygon", "key": "p", "gesture": "polygon"}, {"name": "color", "key": "w", "gesture": "select"}, {"name": "object", "key": "q", "gesture": "select"}, {"name": "subject", "key": "u", "gesture": "select"}, {"name": "hand", "key": "h", "gesture": "pan"}];
/** @type {Readonly<Record<string, string>>} */
export const KEYS = {"b": "tool:brush", "e": "tool:eraser", "g": "tool:bucket", "r": "tool:rect", "o": "tool:ellipse", "l": "tool:lasso", "p": "tool:polygon", "w": "tool:color", "q": "tool:object", "u": "tool:subject", "h": "tool:hand", " ": "pan_hold", "[": "smaller", "]": "bigger", "{": "softer", "}": "harder", "+": "zoom_in", "=": "zoom_in", "-": "zoom_out", "_": "zoom_out", "0": "fit", "1": "actual", "x": "subtract", "i": "invert", "f": "fill", "delete": "clear", "backspace": "clear", "enter": "close", "escape": "leave", "ctrl+z": "undo", "ctrl+shift+z": "redo", "ctrl+y": "redo"};
/** @type {readonly string[]} */
export const BROWSER_ACTIONS = ["pan_hold", "zoom_in", "zoom_out", "fit", "actual", "close", "leave"];
export const ZOOM_STEP = 1.25;
