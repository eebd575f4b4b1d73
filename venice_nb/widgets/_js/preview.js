// What the browser draws over the kernel's picture while a person works: the live stroke (until
// the kernel's overlay has it), and the brush ring, shape, lasso and polygon previews.

/** @typedef {[number, number]} Point canvas px */

/**
 * @param {HTMLCanvasElement} canvas
 * @returns {CanvasRenderingContext2D}
 */
function context2d(canvas) {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("the painter needs a 2D canvas");
  return ctx;
}

export class Preview {
  /** @param {HTMLElement} root the surface the two preview canvases are laid over */
  constructor(root) {
    this.stroke = document.createElement("canvas"); // shown at the overlay's opacity
    this.ui = document.createElement("canvas");
    for (const c of [this.stroke, this.ui]) {
      c.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none;";
      c.setAttribute("aria-hidden", "true");
      root.appendChild(c);
    }
    this.sctx = context2d(this.stroke);
    this.uctx = context2d(this.ui);
    this.width = 1;
    this.height = 1;
    this.dpr = 1;
  }

  /**
   * Match a (new) canvas size; previews are drawn at device resolution, in canvas px.
   * @param {number} width @param {number} height @param {number} dpr
   */
  resize(width, height, dpr) {
    this.width = width;
    this.height = height;
    this.dpr = dpr;
    for (const c of [this.stroke, this.ui]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
    }
    for (const ctx of [this.sctx, this.uctx]) ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  clearStroke() {
    this.sctx.clearRect(0, 0, this.width, this.height);
  }

  /**
   * One capsule of the live stroke, in the overlay colour at full strength (the canvas's CSS
   * opacity gives the overlay's transparency, so overlaps do not darken).
   * @param {Point} a @param {Point} b
   * @param {{size: number, hardness: number, color: string}} brush size in canvas px
   */
  segment(a, b, brush) {
    const ctx = this.sctx;
    const soft = 1 - brush.hardness / 100;
    ctx.strokeStyle = brush.color;
    ctx.lineWidth = brush.size * (1 - soft / 2);
    ctx.lineCap = "round";
    ctx.filter = soft > 0 ? `blur(${(brush.size * soft * this.dpr) / 4}px)` : "none";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0] + 0.01, b[1]);
    ctx.stroke();
  }

  /**
   * Redraw the previews: an open polygon (to the pointer), a lasso, a dragged shape, the ring.
   * @param {{polygon: Point[] | null, lasso: Point[] | null,
   *          shape: {kind: string, start: Point, end: Point} | null,
   *          pointer: Point | null, ring: number}} what ring: brush diameter, 0 for none
   */
  draw(what) {
    const ctx = this.uctx;
    ctx.clearRect(0, 0, this.width, this.height);
    /** @param {() => void} path */
    const outline = (path) => {
      for (const [color, width] of /** @type {const} */ ([["black", 3], ["white", 1]])) {
        ctx.strokeStyle = color; ctx.lineWidth = width; ctx.beginPath(); path(); ctx.stroke();
      }
    };
    /** @param {Point[]} pts */
    const line = (pts) => { ctx.moveTo(...pts[0]); for (const q of pts.slice(1)) ctx.lineTo(...q); };
    const { polygon, lasso, shape, pointer } = what;
    if (polygon) {
      outline(() => line(pointer ? [...polygon, pointer] : polygon));
      outline(() => ctx.arc(polygon[0][0], polygon[0][1], 5, 0, 2 * Math.PI));
    }
    if (lasso) outline(() => line(lasso));
    if (shape) {
      const [x0, y0] = shape.start, [x1, y1] = shape.end;
      outline(() => shape.kind === "rect"
        ? ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0))
        : ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2,
          0, 0, 2 * Math.PI));
    }
    if (pointer && what.ring > 0) {
      outline(() => ctx.arc(pointer[0], pointer[1], Math.max(1, what.ring / 2), 0, 2 * Math.PI));
    }
  }
}
