// "Load mask…" and "Save mask": choosing a file and receiving a download need the browser.
// The chosen file's bytes go to the kernel, which checks them and says in the painter's status
// line what it did or why not; "Save mask" asks the kernel for the PNG and saves what comes back.

/** @typedef {import("./anywidget").MaskFileState} MaskFileState */
/** @typedef {import("./protocol.js").ToKernel} ToKernel */
/** @typedef {import("./protocol.js").ToBrowser} ToBrowser */

/** @param {string} label @param {string} title */
function button(label, title) {
  const b = document.createElement("button");
  b.className = "jupyter-widgets jupyter-button widget-button";
  b.textContent = label;
  b.title = title;
  b.style.width = "auto";
  return b;
}

/** Save `blob` as a file the way a download link does.
 * @param {Blob} blob @param {string} name */
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** @param {import("./anywidget").RenderArgs<MaskFileState>} args */
function render({ model, el }) {
  /** @param {ToKernel} msg @param {ArrayBuffer[]} [buffers] */
  const send = (msg, buffers) => model.send(msg, undefined, buffers);
  const input = document.createElement("input");
  input.type = "file";
  input.accept = "image/png";
  input.hidden = true;
  const load = button("Load mask…", "Load a grayscale PNG mask at the image's size");
  const save = button("Save mask", "Download the mask as a grayscale PNG at the image's size");
  el.classList.add("venice-mask-file");
  el.style.display = "inline-flex";
  el.append(load, save, input);
  load.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    input.value = ""; // the same file again (e.g. after Clear) is a new choice
    if (!file) return;
    if (file.size > model.get("max_bytes")) {
      send({ t: "mask_file", name: file.name, size: file.size }); // no bytes: the kernel says it is too big
      return;
    }
    send({ t: "mask_file", name: file.name, size: file.size }, [await file.arrayBuffer()]);
  });
  save.addEventListener("click", () => send({ t: "save_mask" }));
  /** @param {ToBrowser} msg @param {DataView<ArrayBuffer>[]} buffers */
  const onMessage = (msg, buffers) => {
    if (msg.t === "mask_png" && buffers && buffers.length) {
      download(new Blob([buffers[0]], { type: "image/png" }), msg.name);
    }
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}

export default { render };
