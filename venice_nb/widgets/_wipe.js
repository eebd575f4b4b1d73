// The wipe: before over after, split by a divider dragged on the image or moved with the arrow
// keys, all in the browser (no kernel round trip per move); Tab and Escape leave it.
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "venice-wipe";
  box.tabIndex = 0;
  box.setAttribute("role", "slider");
  box.setAttribute("aria-valuemin", "0");
  box.setAttribute("aria-valuemax", "100");
  box.style.cssText = "position:relative;max-width:100%;touch-action:none;cursor:ew-resize;" +
    "user-select:none;outline-offset:2px";
  const after = document.createElement("img"), before = document.createElement("img");
  for (const img of [after, before]) {
    img.draggable = false;
    img.style.cssText = "display:block;width:100%;height:auto";
  }
  before.style.cssText += ";position:absolute;left:0;top:0;height:100%";
  const line = document.createElement("div");
  line.style.cssText = "position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;" +
    "background:#fff;box-shadow:0 0 0 1px rgba(0,0,0,.6);pointer-events:none";
  box.append(after, before, line);
  el.append(box);
  let urls = [];
  function load() {
    urls.forEach(URL.revokeObjectURL);
    const type = "image/" + model.get("format");
    urls = ["after", "before"].map(
      (name) => URL.createObjectURL(new Blob([model.get(name)], { type })));
    [after.src, before.src] = urls;
    const [left, right] = model.get("labels");
    before.alt = left + " (left of the divider)";
    after.alt = right + " (right of the divider)";
    box.setAttribute("aria-label", "Wipe between " + left + " and " + right);
    box.style.width = model.get("css_width") + "px";
  }
  function draw() {
    const pct = Math.round(model.get("split") * 1000) / 10;
    before.style.clipPath = "inset(0 " + (100 - pct) + "% 0 0)";
    line.style.left = pct + "%";
    box.setAttribute("aria-valuenow", String(Math.round(pct)));
  }
  function set(value) {
    model.set("split", Math.min(1, Math.max(0, value)));
    model.save_changes();
  }
  function follow(e) {
    const r = box.getBoundingClientRect();
    set((e.clientX - r.left) / r.width);
  }
  box.addEventListener("pointerdown", (e) => {
    box.setPointerCapture(e.pointerId);
    box.focus();
    follow(e);
  });
  box.addEventListener("pointermove", (e) => {
    if (box.hasPointerCapture(e.pointerId)) follow(e);
  });
  box.addEventListener("keydown", (e) => {
    const s = model.get("split"), step = e.shiftKey ? 0.1 : 0.02;
    const next = { ArrowLeft: s - step, ArrowRight: s + step, Home: 0, End: 1 }[e.key];
    if (next !== undefined) {  // only these keys are ours: Tab and the rest move on
      e.preventDefault();
      e.stopPropagation();
      set(next);
    } else if (e.key === "Escape") {
      box.blur();
    }
  });
  model.on("change:split", draw);
  model.on("change:before change:after change:labels change:css_width", load);
  load();
  draw();
  return () => urls.forEach(URL.revokeObjectURL);
}
export default { render };
