// Other widgets the painter's surface works with: the ipycanvas canvas it wraps, and the
// painter's own toolbar, whose controls ipywidgets leaves without accessible names.

/**
 * A view of a child widget, given as "IPY_MODEL_<id>" (how widget references are synced).
 * @param {import("./anywidget").WidgetManager} manager
 * @param {string} ref
 * @returns {Promise<import("./anywidget").WidgetView>}
 */
export async function childView(manager, ref) {
  const id = String(ref).replace(/^IPY_MODEL_/, "");
  const child = await manager.get_model(id);
  const view = await manager.create_view(child);
  const classes = /** @type {string[] | undefined} */ (child.get("_dom_classes")) || [];
  view.el.classList.add(...classes); // kept outside a Lumino panel
  return view;
}

/**
 * Give the painter's sliders and colour input their visible labels as accessible names, now and
 * whenever ipywidgets re-renders them; returns a function that stops watching.
 * @param {HTMLElement} el the surface's element, inside the painter
 * @returns {() => void}
 */
export function nameControls(el) {
  const observer = new MutationObserver(() => name());
  let stopped = false;
  function name() {
    const painter = el.closest(".venice-mask-painter");
    if (!painter) return null;
    for (const w of painter.querySelectorAll(".widget-slider, .widget-colorpicker")) {
      const text = (w.querySelector(".widget-label")?.textContent || "").trim();
      for (const c of w.querySelectorAll("[role=slider], input")) {
        if (text && c.getAttribute("aria-label") !== text) c.setAttribute("aria-label", text);
      }
    }
    return painter;
  }
  /** @param {number} tries */
  function attach(tries) {
    if (stopped) return;
    const painter = name();
    if (painter) observer.observe(painter, { childList: true, subtree: true });
    else if (tries > 0) requestAnimationFrame(() => attach(tries - 1));
  }
  attach(120); // the painter's box is attached to the page a few frames after the surface
  return () => { stopped = true; observer.disconnect(); };
}
