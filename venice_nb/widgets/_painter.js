// The painter's surface in the browser: what a kernel round trip cannot serve a person.
// The live stroke, the brush cursor, shape previews, keys and gestures happen here; the kernel
// keeps the full-resolution mask and renders the visible part of the image into the ipycanvas
// canvas this surface wraps. Points go to the kernel batched, once per animation frame.

const PAINT = new Set(["brush", "eraser"]);
const DRAG_SHAPES = new Set(["rect", "ellipse"]);
const LOCAL_KEYS = new Set(["Tab", "Shift", "Control", "Alt", "Meta", "CapsLock"]);

async function childView(model, ref) {
  const id = String(ref).replace(/^IPY_MODEL_/, "");
  const child = await model.widget_manager.get_model(id);
  const view = await model.widget_manager.create_view(child);
  view.el.classList.add(...(child.get("_dom_classes") || [])); // kept outside a Lumino panel
  return view;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "venice-painter-surface";
  root.tabIndex = 0;
  // Lumino (JupyterLab, Notebook 7) fires no shortcut for a key whose target carries this.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.setAttribute("role", "application");
  root.setAttribute("aria-roledescription", "mask painter");
  root.setAttribute("aria-label", model.get("label"));
  root.style.cssText =
    "position:relative;display:inline-block;line-height:0;touch-action:none;overflow:hidden;" +
    "outline-offset:2px;";
  root.dataset.tool = model.get("tool"); // what the pointer does now (tests and CSS read it)
  const stroke = document.createElement("canvas"); // the live stroke, shown at the overlay opacity
  const ui = document.createElement("canvas"); // cursor, shape and lasso previews
  for (const c of [stroke, ui]) {
    c.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none;";
    c.setAttribute("aria-hidden", "true");
    root.appendChild(c);
  }
  el.appendChild(root);

  // ipywidgets names neither slider handles nor colour inputs: give the painter's own toolbar
  // controls their visible labels as accessible names, so screen readers announce them.
  const naming = new MutationObserver(() => nameControls());
  function nameControls() {
    const painter = el.closest(".venice-mask-painter");
    if (!painter) return false;
    for (const w of painter.querySelectorAll(".widget-slider, .widget-colorpicker")) {
      const text = (w.querySelector(".widget-label")?.textContent || "").trim();
      for (const c of w.querySelectorAll("[role=slider], input")) {
        if (text && c.getAttribute("aria-label") !== text) c.setAttribute("aria-label", text);
      }
    }
    return true;
  }
  (function attach(tries) {
    if (nameControls()) {
      naming.observe(el.closest(".venice-mask-painter"), { childList: true, subtree: true });
    } else if (tries > 0) {
      requestAnimationFrame(() => attach(tries - 1));
    }
  })(120);

  let base = null; // the ipycanvas <canvas> with the rendered view
  let view = null;
  let overlayLayer = null; // the ipycanvas layer model the kernel draws the mask into
  const [vw, vh] = model.get("view_size");
  const dpr = window.devicePixelRatio || 1; // previews are drawn at device resolution
  for (const c of [stroke, ui]) { c.width = Math.round(vw * dpr); c.height = Math.round(vh * dpr); }
  root.style.width = `${vw}px`;
  root.style.maxWidth = "100%";
  childView(model, model.get("canvas")).then((v) => {
    view = v;
    overlayLayer = (v.model.get("_canvases") || [])[1] || null;
    base = v.el;
    base.tabIndex = -1; // focus belongs to the surface: ipycanvas would trap Tab and Escape
    base.setAttribute("aria-hidden", "true");
    base.style.cssText += ";display:block;width:100%;height:auto;pointer-events:none;";
    base.style.transformOrigin = "0 0";
    root.insertBefore(base, stroke);
  });

  model.send({ t: "hello", dpr }); // the kernel renders at device resolution
  const sctx = stroke.getContext("2d");
  const uctx = ui.getContext("2d");
  for (const ctx of [sctx, uctx]) ctx.setTransform(dpr, 0, 0, dpr, 0, 0); // draw in canvas px
  let seq = 0; // view changes sent; the kernel echoes the last one it rendered
  let pending = []; // view changes not yet rendered: [seq, scale, tx, ty] applied as CSS
  let batch = []; // stroke points not yet sent
  let frame = 0;
  let strokeId = 0;
  let active = null; // the gesture in progress
  let polygon = null; // the polygon's points while it is open
  let spaceDown = false;
  let pointer = null; // last pointer position (canvas px)
  const touches = new Map();

  const tool = () => model.get("tool");
  const toCanvas = (e) => {
    const r = root.getBoundingClientRect();
    return [(e.clientX - r.left) * vw / r.width, (e.clientY - r.top) * vh / r.height];
  };
  const send = (msg) => model.send(msg);

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    if (batch.length && !(active && active.held)) {
      send({ t: "stroke", id: strokeId, pts: batch, end: false });
      batch = [];
    }
    if (active && active.kind === "pan" && (active.dx || active.dy)) {
      viewChange({ t: "pan", dx: active.dx, dy: active.dy }, 1, active.dx, active.dy);
      active.dx = active.dy = 0;
    }
    if (wheel.f !== 1) {
      const [x, y] = wheel.at;
      viewChange({ t: "zoom", f: wheel.f, x, y }, wheel.f, x * (1 - wheel.f), y * (1 - wheel.f));
      wheel.f = 1;
    }
  }

  // Optimistic view changes: the old pixels move at once, the kernel's render replaces them.
  function viewChange(msg, s, tx, ty) {
    seq += 1;
    send({ ...msg, seq });
    pending.push([seq, s, tx, ty]);
    applyPending();
  }
  function applyPending() {
    if (!base) return;
    let s = 1, tx = 0, ty = 0;
    for (const [, ps, ptx, pty] of pending) { s *= ps; tx = tx * ps + ptx; ty = ty * ps + pty; }
    const r = root.getBoundingClientRect();
    const k = r.width / vw;
    base.style.transform = pending.length ? `translate(${tx * k}px,${ty * k}px) scale(${s})` : "";
  }

  const wheel = { f: 1, at: [0, 0] };
  root.addEventListener("wheel", (e) => {
    e.preventDefault();
    e.stopPropagation();
    const unit = e.deltaMode === 1 ? 20 : e.deltaMode === 2 ? 400 : 1;
    wheel.f *= Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.002));
    wheel.at = toCanvas(e);
    schedule();
  }, { passive: false });

  // A pen's pressure scales the brush; mouse and touch paint at full size.
  const pressureOf = (e) => (e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 1);

  root.addEventListener("pointerdown", (e) => {
    root.focus({ preventScroll: true });
    const p = toCanvas(e);
    if (e.pointerType === "touch") {
      touches.set(e.pointerId, p);
      if (touches.size === 2) { // a second finger: pinch / two-finger pan, no painting
        cancelStroke();
        active = { kind: "pinch", ...pinchState() };
        return;
      }
    }
    if (e.button !== 0 && e.button !== 1) return;
    e.preventDefault();
    root.setPointerCapture(e.pointerId);
    if (e.button === 1 || spaceDown || tool() === "hand") {
      active = { kind: "pan", last: p, dx: 0, dy: 0 };
      root.style.cursor = "grabbing";
      return;
    }
    const t = tool();
    if (PAINT.has(t)) {
      strokeId += 1;
      // A finger's stroke stays in the browser until it has moved: a second finger landing
      // first makes it a pinch, and the dab under the first finger must not reach the mask.
      active = { kind: "stroke", last: p, start: p, held: e.pointerType === "touch" };
      stroke.style.opacity = t === "eraser" ? "0.6" : String(model.get("opacity"));
      batch.push([p[0], p[1], pressureOf(e)]);
      drawSegment(p, p, pressureOf(e));
      schedule();
    } else if (DRAG_SHAPES.has(t)) {
      active = { kind: "shape", start: p, end: p };
    } else if (t === "lasso") {
      active = { kind: "lasso", pts: [p] };
    } else if (t === "polygon") {
      if (!polygon) polygon = [p];
      else if (e.detail >= 2 || near(p, polygon[0])) { closePolygon(); return; }
      else polygon.push(p);
    } else if (t === "bucket") {
      send({ t: "bucket", x: p[0], y: p[1] });
    }
    drawUi();
  });

  function near(a, b) { return Math.hypot(a[0] - b[0], a[1] - b[1]) < 6; }

  root.addEventListener("pointermove", (e) => {
    const p = toCanvas(e);
    pointer = p;
    if (e.pointerType === "touch" && touches.has(e.pointerId)) {
      touches.set(e.pointerId, p);
      if (active && active.kind === "pinch") { pinchMove(); return; }
    }
    if (active && active.kind === "stroke") {
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const ce of events.length ? events : [e]) {
        const q = toCanvas(ce);
        drawSegment(active.last, q, pressureOf(ce));
        batch.push([q[0], q[1], pressureOf(ce)]);
        active.last = q;
        if (Math.hypot(q[0] - active.start[0], q[1] - active.start[1]) > 8) active.held = false;
      }
      schedule();
    } else if (active && active.kind === "pan") {
      active.dx += p[0] - active.last[0];
      active.dy += p[1] - active.last[1];
      active.last = p;
      schedule();
    } else if (active && active.kind === "shape") {
      active.end = p;
    } else if (active && active.kind === "lasso") {
      active.pts.push(p);
    }
    drawUi();
  });

  function endGesture(e) {
    touches.delete(e.pointerId);
    if (!active) return;
    const a = active;
    active = null;
    root.style.cursor = "";
    if (a.kind === "stroke") {
      flush();
      send({ t: "stroke", id: strokeId, pts: [], end: true });
    } else if (a.kind === "pan") {
      flush();
    } else if (a.kind === "shape") {
      send({ t: "shape", kind: tool(), pts: [a.start, toCanvas(e)] });
    } else if (a.kind === "lasso" && a.pts.length > 2) {
      send({ t: "shape", kind: "polygon", pts: a.pts });
    }
    drawUi();
  }
  root.addEventListener("pointerup", endGesture);
  root.addEventListener("pointercancel", endGesture);
  root.addEventListener("pointerleave", () => { pointer = null; drawUi(); });
  root.addEventListener("dblclick", (e) => { e.preventDefault(); if (polygon) closePolygon(); });
  root.addEventListener("contextmenu", (e) => { if (active || polygon) e.preventDefault(); });

  function closePolygon() {
    if (polygon && polygon.length > 2) send({ t: "shape", kind: "polygon", pts: polygon });
    polygon = null;
    drawUi();
  }
  function cancelStroke() {
    if (active && active.held) { // the kernel never saw it: drop it
      batch = [];
      sctx.clearRect(0, 0, vw, vh);
    } else if (active && active.kind === "stroke") {
      flush();
      send({ t: "stroke", id: strokeId, pts: [], end: true });
    }
    active = null;
  }

  function pinchState() {
    const [a, b] = [...touches.values()];
    return { d: Math.hypot(a[0] - b[0], a[1] - b[1]), m: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
  }
  function pinchMove() {
    const now = pinchState();
    const f = now.d / Math.max(1, active.d);
    const dx = now.m[0] - active.m[0], dy = now.m[1] - active.m[1];
    if (Math.abs(f - 1) > 0.02) {
      viewChange({ t: "zoom", f, x: now.m[0], y: now.m[1] }, f, now.m[0] * (1 - f), now.m[1] * (1 - f));
      active.d = now.d;
    }
    if (Math.hypot(dx, dy) > 2) {
      viewChange({ t: "pan", dx, dy }, 1, dx, dy);
      active.m = now.m;
    }
  }

  // The live stroke: one capsule per segment, in the overlay colour at full strength (the
  // canvas's CSS opacity gives the overlay's transparency, so overlaps do not darken).
  function drawSegment(a, b, pressure) {
    const t = tool();
    const w = Math.max(1, model.get("brush_size") * pressure);
    const soft = 1 - model.get("hardness") / 100;
    sctx.strokeStyle = t === "eraser" ? "#ffffff" : model.get("color");
    sctx.lineWidth = w * (1 - soft / 2);
    sctx.lineCap = "round";
    sctx.filter = soft > 0 ? `blur(${(w * soft * dpr) / 4}px)` : "none";
    sctx.beginPath();
    sctx.moveTo(a[0], a[1]);
    sctx.lineTo(b[0] + 0.01, b[1]);
    sctx.stroke();
  }

  function drawUi() {
    uctx.clearRect(0, 0, vw, vh);
    const ring = (fn) => {
      for (const [color, width] of [["black", 3], ["white", 1]]) {
        uctx.strokeStyle = color; uctx.lineWidth = width; uctx.beginPath(); fn(); uctx.stroke();
      }
    };
    if (polygon) {
      const pts = pointer ? [...polygon, pointer] : polygon;
      ring(() => { uctx.moveTo(...pts[0]); for (const q of pts.slice(1)) uctx.lineTo(...q); });
      ring(() => uctx.arc(polygon[0][0], polygon[0][1], 5, 0, 2 * Math.PI));
    }
    if (active && active.kind === "lasso") {
      ring(() => { uctx.moveTo(...active.pts[0]); for (const q of active.pts) uctx.lineTo(...q); });
    }
    if (active && active.kind === "shape") {
      const [x0, y0] = active.start, [x1, y1] = active.end;
      ring(() => tool() === "rect"
        ? uctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0))
        : uctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2,
          0, 0, 2 * Math.PI));
    }
    if (!pointer) return;
    const [x, y] = pointer;
    const t = tool();
    if (PAINT.has(t) && !spaceDown) {
      ring(() => uctx.arc(x, y, Math.max(1, model.get("brush_size") / 2), 0, 2 * Math.PI));
      root.style.cursor = "none";
    } else {
      root.style.cursor = spaceDown || t === "hand" ? (active ? "grabbing" : "grab") : "crosshair";
    }
  }

  root.addEventListener("keydown", (e) => {
    if (LOCAL_KEYS.has(e.key)) return; // Tab / Shift+Tab move focus on as usual
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && !["z", "y", "Z", "Y"].includes(e.key)) return; // copy, save... stay the browser's
    e.stopPropagation();
    e.preventDefault();
    if (e.key === "Escape") {
      if (polygon) { polygon = null; drawUi(); } else root.blur();
      return;
    }
    if (e.key === " ") { spaceDown = true; drawUi(); return; }
    if (e.key === "Enter") { closePolygon(); return; }
    const zoom = { "+": 1.25, "=": 1.25, "-": 0.8, "_": 0.8 }[e.key];
    const [x, y] = pointer || [vw / 2, vh / 2];
    if (zoom) {
      viewChange({ t: "zoom", f: zoom, x, y }, zoom, x * (1 - zoom), y * (1 - zoom));
      return;
    }
    if (e.key === "0" || e.key === "1") {
      seq += 1;
      send({ t: "zoomto", to: e.key === "0" ? "fit" : 1, x, y, seq });
      return;
    }
    send({ t: "key", key: e.key, shift: e.shiftKey, ctrl });
  });
  root.addEventListener("keyup", (e) => {
    if (e.key === " ") { spaceDown = false; drawUi(); }
    if (!LOCAL_KEYS.has(e.key)) e.stopPropagation();
  });
  root.addEventListener("blur", () => { spaceDown = false; });

  model.on("msg:custom", (msg) => {
    if (msg.t === "rendered") {
      // Sent just before the kernel draws view change `seq`: once that frame is drawn, the
      // optimistic transform for it (and for those before) must go.
      afterNextFrame(() => {
        pending = pending.filter(([s]) => s > msg.seq);
        applyPending();
      });
    } else if (msg.t === "committed") {
      // Sent just before the kernel draws the stroke into the overlay layer: keep the live
      // stroke until that frame is drawn, so the stroke never blinks out.
      afterNextFrame(() => {
        if (msg.id === strokeId && !active) sctx.clearRect(0, 0, vw, vh);
      });
    }
  });

  // Run `fn` once the kernel's next drawing has reached the canvas (or after 1.5 s, for a
  // change that draws nothing).
  function afterNextFrame(fn) {
    let done = false;
    const run = () => { if (!done) { done = true; fn(); } };
    if (overlayLayer) overlayLayer.once("new-frame", () => requestAnimationFrame(run));
    setTimeout(run, 1500);
  }
  model.on("change:tool", () => { polygon = null; root.dataset.tool = tool(); drawUi(); });
  model.on("change:brush_size", drawUi);
  return () => { naming.disconnect(); if (view) view.remove(); };
}

export default { render };
