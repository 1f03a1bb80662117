// With the witness: the statement read back in large type, the MG11 declaration, a signature
// pad (pointer events: finger, stylus or mouse), the place, the witness's acceptance; confirm
// (the content is frozen from then on), then submit.
import { api, el, showError, statusText } from "./api.js";
import { FIELD_ORDER, fieldLabel } from "./fields.js";

const $ = (id) => document.getElementById(id);
const root = $("witness");
const statementId = root.dataset.statementId;
const base = `/api/v1/statements/${encodeURIComponent(statementId)}`;

const statusEl = $("status");
const errorBox = $("witness-error");
const readback = $("readback");
const declaration = $("declaration");
const form = $("confirm-form");
const canvas = $("signature");
const clearButton = $("clear-signature");
const place = $("place");
const accept = $("accept");
const confirmButton = $("confirm");
const afterConfirm = $("after-confirm");
const confirmedNote = $("confirmed-note");
const submitButton = $("submit");

let record = null;

function fail(error) {
  showError(errorBox, error);
}

// --- the read-back -------------------------------------------------------------------------

function renderReadback() {
  const c = record.statement || {};
  const fields = { ...(c.details || {}), ...(c.fields || {}) }; // details: "over 18", ...
  const notStated = c.not_stated || [];
  const rows = FIELD_ORDER.filter((name) => name in fields || notStated.includes(name)).map((name) =>
    el(
      "div",
      { class: "field", dataset: { name } },
      el("span", { class: "label" }, fieldLabel(name)),
      el("span", { class: `value${name in fields ? "" : " not-stated"}` },
        name in fields ? String(fields[name].value) : "not stated"),
    ),
  );
  const paragraphs = String(c.narrative || "")
    .split(/\n\s*\n/)
    .map((text) => text.trim())
    .filter(Boolean)
    .map((text) => el("p", {}, text));
  readback.replaceChildren(
    ...rows,
    el("h3", {}, "Statement"),
    el("div", { class: "narrative", id: "readback-narrative" }, ...paragraphs),
  );
}

function render() {
  statusEl.textContent = record.status;
  statusEl.className = `status ${record.status}`;
  renderReadback();
  const confirmed = record.confirmation;
  if (confirmed) {
    declaration.textContent = confirmed.declaration; // the one the witness accepted, with its page count
    form.hidden = true;
    afterConfirm.hidden = false;
    const when = new Date(confirmed.confirmed_at).toLocaleString("en-GB");
    confirmedNote.textContent =
      `Confirmed by ${confirmed.officer} on ${when}${confirmed.place ? ` at ${confirmed.place}` : ""}.`;
    const submitted = record.status === "submitted";
    submitButton.hidden = submitted;
    submitButton.disabled = submitted;
    if (submitted) confirmedNote.textContent += " Submitted to the case file.";
  } else if (record.status !== "draft") {
    form.hidden = true;
    errorBox.textContent = `The statement is ${statusText(record.status)}: it cannot be confirmed now.`;
  } else {
    form.hidden = false;
    afterConfirm.hidden = true;
    sizeCanvas();
  }
}

async function load() {
  try {
    record = await api(base);
    render();
  } catch (error) {
    fail(error);
  }
}

// --- the signature pad ---------------------------------------------------------------------

const strokes = []; // each stroke: [[x, y], ...] in CSS pixels, so a resize can redraw it
let current = null;

function sizeCanvas() {
  const box = canvas.getBoundingClientRect();
  if (!box.width) return;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(box.width * ratio);
  canvas.height = Math.round(box.height * ratio);
  redraw();
}

function pen() {
  const ctx = canvas.getContext("2d");
  const ratio = canvas.width / (canvas.getBoundingClientRect().width || canvas.width);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#000";
  return ctx;
}

function redraw() {
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#fff"; // an opaque white page: the PNG reads the same on any background
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const p = pen();
  for (const stroke of strokes) drawStroke(p, stroke);
}

function drawStroke(ctx, stroke) {
  if (!stroke.length) return;
  ctx.beginPath();
  ctx.moveTo(stroke[0][0], stroke[0][1]);
  if (stroke.length === 1) ctx.lineTo(stroke[0][0] + 0.1, stroke[0][1] + 0.1); // a dot
  for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [event.clientX - box.left, event.clientY - box.top];
}

canvas.addEventListener("pointerdown", (event) => {
  if (form.hidden) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  current = [point(event)];
  strokes.push(current);
  drawStroke(pen(), current);
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  const ctx = pen();
  for (const e of events.length ? events : [event]) {
    const last = current[current.length - 1];
    const next = point(e);
    current.push(next);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(next[0], next[1]);
    ctx.stroke();
  }
});
for (const kind of ["pointerup", "pointercancel", "lostpointercapture"]) {
  canvas.addEventListener(kind, () => {
    current = null;
  });
}
clearButton.addEventListener("click", () => {
  strokes.length = 0;
  redraw();
});
window.addEventListener("resize", sizeCanvas);

function signed() {
  return strokes.some((stroke) => stroke.length > 1);
}

// --- confirm and submit --------------------------------------------------------------------

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.textContent = "";
  if (!signed()) {
    errorBox.textContent = "The witness has not signed: ask them to sign in the box.";
    canvas.scrollIntoView({ block: "center" });
    return;
  }
  if (!accept.checked) {
    errorBox.textContent = "Tick the box once the witness accepts the statement and the declaration.";
    accept.focus();
    return;
  }
  confirmButton.disabled = true;
  try {
    record = await api(`${base}/confirm`, {
      method: "POST",
      json: {
        witness_declaration_accepted: true,
        signature_png_base64: canvas.toDataURL("image/png"),
        place: place.value.trim() || null,
      },
    });
    render();
    submitButton.focus();
  } catch (error) {
    fail(error);
  } finally {
    confirmButton.disabled = false;
  }
});

submitButton.addEventListener("click", async () => {
  errorBox.textContent = "";
  submitButton.disabled = true;
  try {
    record = await api(`${base}/submit`, { method: "POST" });
    render();
    statusEl.focus();
  } catch (error) {
    submitButton.disabled = false;
    fail(error);
  }
});

statusEl.tabIndex = -1;
sizeCanvas();
load();
