// The painter's surface in the browser: what a kernel round trip cannot serve a person.
// The live stroke, the brush cursor, shape previews, keys and gestures happen here; the kernel
// keeps the full-resolution mask and renders the visible part of the image into the ipycanvas
// canvas this surface wraps. Points go to the kernel batched, once per animation frame.
import { TOOLS, KEYS, BROWSER_ACTIONS, ZOOM_STEP } from "./protocol.js";
import { childView, nameControls } from "./widgets.js";
import { Preview } from "./preview.js";
import { ViewChanges } from "./viewchanges.js";

/** @typedef {import("./anywidget").SurfaceState} SurfaceState */
/** @typedef {import("./anywidget").Model<SurfaceState>} SurfaceModel */
/** @typedef {import("./protocol.js").ToKernel} ToKernel */
/** @typedef {import("./protocol.js").ToBrowser} ToBrowser */
/** @typedef {import("./protocol.js").ToolName} ToolName */
/** @typedef {import("./protocol.js").Gesture} Gesture */
/** @typedef {import("./preview.js").Point} Point */
/**
 * The gesture in progress.
 * @typedef {{kind: "stroke", last: Point, start: Point, held: boolean}
 *   | {kind: "pan", last: Point, dx: number, dy: number}
 *   | {kind: "pinch", d: number, m: Point}
 *   | {kind: "shape", tool: ToolName, start: Point, end: Point}
 *   | {kind: "lasso", pts: Point[]}} Active
 */

const LOCAL_KEYS = new Set(["Tab", "Shift", "Control", "Alt", "Meta", "CapsLock"]);
/** @type {Map<string, Gesture>} */
const GESTURE = new Map(TOOLS.map((t) => [t.name, t.gesture]));

/**
 * The table key of a key press: "ctrl+shift+z", "b", "delete", "{" ...
 * @param {KeyboardEvent} e
 */
function keyName(e) {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key.toLowerCase();
  if (e.ctrlKey || e.metaKey) return `ctrl+${e.shiftKey ? "shift+" : ""}${key}`;
  return key;
}

/** A pen's pressure scales the brush; mouse and touch paint at full size.
 * @param {PointerEvent} e */
const pressureOf = (e) => (e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 1);

/** @param {Point} a @param {Point} b */
const near = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]) < 6;

class Surface {
  /** @param {SurfaceModel} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.root = document.createElement("div");
    const root = this.root;
    root.className = "venice-painter-surface";
    root.tabIndex = 0;
    // Lumino (JupyterLab, Notebook 7) fires no shortcut for a key whose target carries this.
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    root.setAttribute("role", "application");
    root.setAttribute("aria-roledescription", "mask painter");
    root.setAttribute("aria-label", model.get("label"));
    root.style.cssText =
      "position:relative;display:inline-block;line-height:0;touch-action:none;overflow:hidden;" +
      "outline-offset:2px;max-width:100%;";
    root.dataset.tool = model.get("tool"); // what the pointer does now (tests and CSS read it)
    this.preview = new Preview(root);
    el.appendChild(root);
    this.dpr = window.devicePixelRatio || 1;
    /** @type {HTMLElement | null} the ipycanvas <canvas> with the kernel's picture */
    this.base = null;
    /** @type {import("./anywidget").WidgetView | null} */
    this.view = null;
    /** @type {import("./anywidget").WidgetModel | null} the layer the kernel draws the mask in */
    this.overlayLayer = null;
    this.changes = new ViewChanges();
    /** @type {number[][]} stroke points not sent yet */
    this.batch = [];
    this.frame = 0;
    this.strokeId = 0;
    /** @type {Active | null} */
    this.active = null;
    /** @type {Point[] | null} the polygon's corners while it is open */
    this.polygon = null;
    this.spaceDown = false;
    /** @type {Point | null} last pointer position (canvas px) */
    this.pointer = null;
    /** @type {Map<number, Point>} */
    this.touches = new Map();
    this.wheel = { f: 1, at: /** @type {Point} */ ([0, 0]) };
    this.width = 1;
    this.height = 1;
    this.resize();
  }

  get tool() { return this.model.get("tool"); }

  /** @param {ToKernel} msg @param {ArrayBuffer[]} [buffers] */
  send(msg, buffers) { this.model.send(msg, undefined, buffers); }

  /** The canvas size (CSS px) from the kernel: at start and whenever the image changes. */
  resize() {
    const [w, h] = this.model.get("view_size");
    this.width = w;
    this.height = h;
    this.root.style.width = `${w}px`;
    this.preview.resize(w, h, this.dpr);
    this.drawUi();
  }

  /** A new image: nothing drawn or pending for the old one may land on it. */
  reset() {
    this.active = null;
    this.polygon = null;
    this.batch = [];
    this.changes.clear();
    this.applyPending();
    this.preview.clearStroke();
    this.resize();
  }

  /** @param {PointerEvent | WheelEvent} e @returns {Point} */
  toCanvas(e) {
    const r = this.root.getBoundingClientRect();
    return [(e.clientX - r.left) * this.width / r.width, (e.clientY - r.top) * this.height / r.height];
  }

  async attachCanvas() {
    const v = await childView(this.model.widget_manager, this.model.get("canvas"));
    this.view = v;
    const layers = /** @type {import("./anywidget").WidgetModel[] | undefined} */ (
      v.model.get("_canvases"));
    this.overlayLayer = (layers || [])[1] || null;
    this.base = v.el;
    this.base.tabIndex = -1; // focus belongs to the surface: ipycanvas would trap Tab and Escape
    this.base.setAttribute("aria-hidden", "true");
    this.base.style.cssText += ";display:block;width:100%;height:auto;pointer-events:none;";
    this.base.style.transformOrigin = "0 0";
    this.root.insertBefore(this.base, this.preview.stroke);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const a = this.active;
    if (this.batch.length && !(a && a.kind === "stroke" && a.held)) {
      this.send({ t: "stroke", id: this.strokeId, pts: this.batch, end: false });
      this.batch = [];
    }
    if (a && a.kind === "pan" && (a.dx || a.dy)) {
      this.pan(a.dx, a.dy);
      a.dx = a.dy = 0;
    }
    if (this.wheel.f !== 1) {
      this.zoom(this.wheel.f, this.wheel.at);
      this.wheel.f = 1;
    }
  }

  /** @param {number} f @param {Point} at */
  zoom(f, [x, y]) {
    const seq = this.changes.push(f, x * (1 - f), y * (1 - f));
    this.send({ t: "zoom", f, x, y, seq });
    this.applyPending();
  }

  /** @param {number} dx @param {number} dy */
  pan(dx, dy) {
    const seq = this.changes.push(1, dx, dy);
    this.send({ t: "pan", dx, dy, seq });
    this.applyPending();
  }

  applyPending() {
    if (!this.base) return;
    const r = this.root.getBoundingClientRect();
    this.base.style.transform = this.changes.transform(r.width / this.width);
  }

  /** @param {PointerEvent} e */
  down(e) {
    this.root.focus({ preventScroll: true });
    const p = this.toCanvas(e);
    if (e.pointerType === "touch") {
      this.touches.set(e.pointerId, p);
      if (this.touches.size === 2) { // a second finger: pinch / two-finger pan, no painting
        this.cancelStroke();
        this.active = { kind: "pinch", ...this.pinchState() };
        return;
      }
    }
    if (e.button !== 0 && e.button !== 1) return;
    e.preventDefault();
    this.root.setPointerCapture(e.pointerId);
    const tool = this.tool;
    const gesture = GESTURE.get(tool);
    if (e.button === 1 || this.spaceDown || gesture === "pan") {
      this.active = { kind: "pan", last: p, dx: 0, dy: 0 };
      this.root.style.cursor = "grabbing";
      return;
    }
    if (gesture === "paint") {
      this.strokeId += 1;
      // A finger's stroke stays in the browser until it has moved: a second finger landing
      // first makes it a pinch, and the dab under the first finger must not reach the mask.
      this.active = { kind: "stroke", last: p, start: p, held: e.pointerType === "touch" };
      this.preview.stroke.style.opacity = tool === "eraser" ? "0.6" : String(this.model.get("opacity"));
      this.batch.push([p[0], p[1], pressureOf(e)]);
      this.segment(p, p, pressureOf(e));
      this.schedule();
    } else if (gesture === "drag") {
      this.active = { kind: "shape", tool, start: p, end: p };
    } else if (gesture === "lasso") {
      this.active = { kind: "lasso", pts: [p] };
    } else if (gesture === "polygon") {
      if (!this.polygon) this.polygon = [p];
      else if (e.detail >= 2 || near(p, this.polygon[0])) { this.closePolygon(); return; }
      else this.polygon.push(p);
    } else if (gesture === "click") {
      this.send({ t: "click", tool, x: p[0], y: p[1] });
    } else if (gesture === "select") { // Alt/Shift: object select's "not this"
      this.send({ t: "select", tool, x: p[0], y: p[1], exclude: e.altKey || e.shiftKey });
    }
    this.drawUi();
  }

  /** @param {PointerEvent} e */
  move(e) {
    const p = this.toCanvas(e);
    this.pointer = p;
    const a = this.active;
    if (e.pointerType === "touch" && this.touches.has(e.pointerId)) {
      this.touches.set(e.pointerId, p);
      if (a && a.kind === "pinch") { this.pinchMove(a); return; }
    }
    if (a && a.kind === "stroke") {
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ce of events.length ? events : [e]) {
        const q = this.toCanvas(ce);
        this.segment(a.last, q, pressureOf(ce));
        this.batch.push([q[0], q[1], pressureOf(ce)]);
        a.last = q;
        if (Math.hypot(q[0] - a.start[0], q[1] - a.start[1]) > 8) a.held = false;
      }
      this.schedule();
    } else if (a && a.kind === "pan") {
      a.dx += p[0] - a.last[0];
      a.dy += p[1] - a.last[1];
      a.last = p;
      this.schedule();
    } else if (a && a.kind === "shape") {
      a.end = p;
    } else if (a && a.kind === "lasso") {
      a.pts.push(p);
    }
    this.drawUi();
  }

  /** @param {PointerEvent} e */
  up(e) {
    this.touches.delete(e.pointerId);
    const a = this.active;
    if (!a) return;
    this.active = null;
    this.root.style.cursor = "";
    if (a.kind === "stroke") {
      this.flush();
      this.send({ t: "stroke", id: this.strokeId, pts: [], end: true });
    } else if (a.kind === "pan" && (a.dx || a.dy)) { // the last move's pan, not yet sent
      this.pan(a.dx, a.dy);
    } else if (a.kind === "shape") {
      this.send({ t: "shape", tool: a.tool, pts: [a.start, this.toCanvas(e)] });
    } else if (a.kind === "lasso" && a.pts.length > 2) {
      this.send({ t: "shape", tool: "lasso", pts: a.pts });
    }
    this.drawUi();
  }

  closePolygon() {
    if (this.polygon && this.polygon.length > 2) {
      this.send({ t: "shape", tool: "polygon", pts: this.polygon });
    }
    this.polygon = null;
    this.drawUi();
  }

  cancelStroke() {
    const a = this.active;
    if (a && a.kind === "stroke" && a.held) { // the kernel never saw it: drop it
      this.batch = [];
      this.preview.clearStroke();
    } else if (a && a.kind === "stroke") {
      this.flush();
      this.send({ t: "stroke", id: this.strokeId, pts: [], end: true });
    }
    this.active = null;
  }

  pinchState() {
    const [a, b] = [...this.touches.values()];
    return { d: Math.hypot(a[0] - b[0], a[1] - b[1]),
      m: /** @type {Point} */ ([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]) };
  }

  /** @param {{kind: "pinch", d: number, m: Point}} a */
  pinchMove(a) {
    const now = this.pinchState();
    const f = now.d / Math.max(1, a.d);
    const dx = now.m[0] - a.m[0], dy = now.m[1] - a.m[1];
    if (Math.abs(f - 1) > 0.02) {
      this.zoom(f, now.m);
      a.d = now.d;
    }
    if (Math.hypot(dx, dy) > 2) {
      this.pan(dx, dy);
      a.m = now.m;
    }
  }

  /** @param {Point} a @param {Point} b @param {number} pressure */
  segment(a, b, pressure) {
    this.preview.segment(a, b, {
      size: Math.max(1, this.model.get("brush_size") * pressure),
      hardness: this.model.get("hardness"),
      color: this.tool === "eraser" ? "#ffffff" : this.model.get("color"),
    });
  }

  drawUi() {
    const a = this.active;
    const painting = GESTURE.get(this.tool) === "paint" && !this.spaceDown;
    this.preview.draw({
      polygon: this.polygon,
      lasso: a && a.kind === "lasso" ? a.pts : null,
      shape: a && a.kind === "shape" ? { kind: a.tool, start: a.start, end: a.end } : null,
      pointer: this.pointer,
      ring: painting ? this.model.get("brush_size") : 0,
    });
    if (!this.pointer) return;
    const panning = this.spaceDown || GESTURE.get(this.tool) === "pan";
    this.root.style.cursor = painting ? "none"
      : panning ? (a ? "grabbing" : "grab") : "crosshair";
  }

  /** @param {KeyboardEvent} e */
  keydown(e) {
    if (LOCAL_KEYS.has(e.key)) return; // Tab / Shift+Tab move focus on as usual
    const action = KEYS[keyName(e)];
    if ((e.ctrlKey || e.metaKey) && !action) return; // copy, save... stay the browser's
    e.stopPropagation();
    e.preventDefault();
    if (!action) return;
    if (action.startsWith("tool:")) {
      // Applied here at once, so a click right after the key uses the new tool.
      this.model.set("tool", /** @type {ToolName} */ (action.slice(5)));
      this.model.save_changes();
    } else if (BROWSER_ACTIONS.includes(action)) {
      this.browserAction(action);
    } else {
      this.send({ t: "action", name: action });
    }
  }

  /** @param {string} action one of BROWSER_ACTIONS */
  browserAction(action) {
    const at = this.pointer || /** @type {Point} */ ([this.width / 2, this.height / 2]);
    if (action === "leave") {
      if (this.polygon) { this.polygon = null; this.drawUi(); } else this.root.blur();
    } else if (action === "pan_hold") {
      this.spaceDown = true;
      this.drawUi();
    } else if (action === "close") {
      this.closePolygon();
    } else if (action === "zoom_in" || action === "zoom_out") {
      this.zoom(action === "zoom_in" ? ZOOM_STEP : 1 / ZOOM_STEP, at);
    } else if (action === "fit" || action === "actual") {
      this.changes.seq += 1; // no optimistic picture: the kernel's render follows
      this.send({ t: "zoomto", to: action === "fit" ? 0 : 1, x: at[0], y: at[1], seq: this.changes.seq });
    }
  }

  /** @param {ToBrowser} msg */
  message(msg) {
    if (msg.t === "rendered") {
      // Sent just before the kernel draws view change `seq`: once that frame is drawn, the
      // optimistic transform for it (and for those before) must go.
      this.afterNextFrame(() => { this.changes.drawn(msg.seq); this.applyPending(); });
    } else if (msg.t === "committed") {
      // Sent just before the kernel draws the stroke into the overlay layer: keep the live
      // stroke until that frame is drawn, so the stroke never blinks out.
      this.afterNextFrame(() => {
        if (msg.id === this.strokeId && !this.active) this.preview.clearStroke();
      });
    } else if (msg.t === "reset") {
      this.reset();
    }
  }

  /**
   * Run `fn` once the kernel's next drawing has reached the canvas (or after 1.5 s, for a
   * change that draws nothing).
   * @param {() => void} fn
   */
  afterNextFrame(fn) {
    let done = false;
    const run = () => { if (!done) { done = true; fn(); } };
    if (this.overlayLayer) this.overlayLayer.once("new-frame", () => requestAnimationFrame(run));
    setTimeout(run, 1500);
  }

  listen() {
    const root = this.root;
    root.addEventListener("wheel", (e) => {
      e.preventDefault();
      e.stopPropagation();
      const unit = e.deltaMode === 1 ? 20 : e.deltaMode === 2 ? 400 : 1;
      this.wheel.f *= Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.002));
      this.wheel.at = this.toCanvas(e);
      this.schedule();
    }, { passive: false });
    root.addEventListener("pointerdown", (e) => this.down(e));
    root.addEventListener("pointermove", (e) => this.move(e));
    root.addEventListener("pointerup", (e) => this.up(e));
    root.addEventListener("pointercancel", (e) => this.up(e));
    root.addEventListener("pointerleave", () => { this.pointer = null; this.drawUi(); });
    root.addEventListener("dblclick", (e) => { e.preventDefault(); if (this.polygon) this.closePolygon(); });
    root.addEventListener("contextmenu", (e) => { if (this.active || this.polygon) e.preventDefault(); });
    root.addEventListener("keydown", (e) => this.keydown(e));
    root.addEventListener("keyup", (e) => {
      if (e.key === " ") { this.spaceDown = false; this.drawUi(); }
      if (!LOCAL_KEYS.has(e.key)) e.stopPropagation();
    });
    root.addEventListener("blur", () => { this.spaceDown = false; });
    /** @type {[string, import("./anywidget").Listener][]} */
    const handlers = [
      ["msg:custom", (/** @type {ToBrowser} */ msg) => this.message(msg)],
      ["change:tool", () => { this.polygon = null; root.dataset.tool = this.tool; this.drawUi(); }],
      ["change:brush_size", () => this.drawUi()],
      ["change:view_size", () => this.reset()],
    ];
    for (const [event, fn] of handlers) this.model.on(event, fn);
    return () => { for (const [event, fn] of handlers) this.model.off(event, fn); };
  }
}

/** @param {import("./anywidget").RenderArgs<SurfaceState>} args */
function render({ model, el }) {
  const surface = new Surface(model, el);
  const unlisten = surface.listen();
  const unname = nameControls(el);
  surface.attachCanvas().then(() => surface.applyPending());
  surface.send({ t: "hello", dpr: surface.dpr }); // the kernel renders at device resolution
  return () => {
    unlisten();
    unname();
    if (surface.view) surface.view.remove();
  };
}

export default { render };
