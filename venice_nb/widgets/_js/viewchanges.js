// Optimistic view changes: on a zoom or pan the old pixels move at once (a CSS transform), and
// the kernel's render replaces them. Each change is numbered; the kernel says which one it has
// drawn, and the transforms up to that one are dropped.

/** @typedef {{seq: number, scale: number, tx: number, ty: number}} Pending */

export class ViewChanges {
  constructor() {
    /** view changes sent so far (the kernel echoes the last one it has drawn) */
    this.seq = 0;
    /** @type {Pending[]} changes sent but not drawn yet */
    this.pending = [];
  }

  /**
   * Number a new change and remember how it moves the shown pixels.
   * @param {number} scale
   * @param {number} tx canvas px
   * @param {number} ty canvas px
   * @returns {number} its number
   */
  push(scale, tx, ty) {
    this.seq += 1;
    this.pending.push({ seq: this.seq, scale, tx, ty });
    return this.seq;
  }

  /** @param {number} seq the change the kernel has drawn */
  drawn(seq) {
    this.pending = this.pending.filter((p) => p.seq > seq);
  }

  clear() {
    this.pending = [];
  }

  /**
   * The CSS transform of the pending changes ("" when none).
   * @param {number} cssPerCanvas CSS px per canvas px
   */
  transform(cssPerCanvas) {
    let s = 1, tx = 0, ty = 0;
    for (const p of this.pending) { s *= p.scale; tx = tx * p.scale + p.tx; ty = ty * p.scale + p.ty; }
    if (!this.pending.length) return "";
    return `translate(${tx * cssPerCanvas}px,${ty * cssPerCanvas}px) scale(${s})`;
  }
}
