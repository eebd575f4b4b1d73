// Keys typed in a venice_nb widget stay in it: an invisible piece that EditControls, EditStudio,
// MaskPainter and ResultBrowser each carry (ipywidgets cannot set a DOM attribute). It marks
// the enclosing widget (the outermost match of `root`) with Lumino's
// `data-lm-suppress-shortcuts`, so no key typed in a text box, a number, a dropdown or the
// painter runs a notebook command (Notebook 7 matches shortcuts in the capture phase, before a
// widget sees the key: Shift+Enter in a text box re-ran the widget's cell).
// With `run` set (the edit controls), Shift/Ctrl/Alt+Enter in a text input asks the kernel to
// Run (and goes no further), and when Run (or a button that gets disabled) drops focus, it goes
// back to the prompt. Other guards only set the attribute (that alone stops Lumino's shortcuts),
// so a studio opened inside a ResultBrowser still gets its Shift+Enter.

/** @param {{ model: any, el: HTMLElement }} ctx */
function render({ model, el }) {
  el.style.display = "none";
  let root = null;
  const onKey = (e) => {
    if (e.key !== "Enter" || !(e.shiftKey || e.ctrlKey || e.altKey || e.metaKey)) return;
    const t = e.target;
    if (!(t instanceof HTMLElement) || !t.matches("textarea, input, select")) return;
    e.preventDefault();
    e.stopPropagation();
    model.send({ event: "run" });
  };
  const onFocusOut = (e) => {
    const left = e.target;
    if (e.relatedTarget || !(left instanceof HTMLElement)) return;
    // A button disabled while it had focus (Run while running) drops focus to the page.
    requestAnimationFrame(() => {
      const now = document.activeElement;
      if (root && left.matches("button") && left.disabled
          && (now === null || now === document.body)) {
        const prompt = root.querySelector(".venice-prompt textarea");
        if (prompt) prompt.focus({ preventScroll: true });
      }
    });
  };
  const onFocusIn = (e) => {
    if (e.target instanceof HTMLElement) e.target.setAttribute("data-lm-suppress-shortcuts", "true");
  };
  let tries = 600;
  (function attach() {
    root = el.isConnected ? el.closest(model.get("root")) : null;
    // A studio wraps its controls and painter: the outermost match is the one to mark.
    let outer = root && root.parentElement && root.parentElement.closest(model.get("root"));
    while (outer) {
      root = outer;
      outer = root.parentElement && root.parentElement.closest(model.get("root"));
    }
    if (root) {
      root.setAttribute("data-lm-suppress-shortcuts", "true");
      // Notebook 7's command-mode bindings match a focused element that is no text box (a
      // button, a slider, a checkbox) before Lumino reaches an ancestor's attribute: whatever
      // takes focus in the widget carries it too.
      root.addEventListener("focusin", onFocusIn);
      if (model.get("run")) {
        root.addEventListener("keydown", onKey, true);
        root.addEventListener("focusout", onFocusOut);
      }
    } else if (tries-- > 0) {
      requestAnimationFrame(attach);
    }
  })();
  return () => {
    if (root) {
      root.removeEventListener("focusin", onFocusIn);
      root.removeEventListener("keydown", onKey, true);
      root.removeEventListener("focusout", onFocusOut);
    }
  };
}
export default { render };
