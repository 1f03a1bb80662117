// The draft review page: drafting progress (server-sent events), then the statement as fields
// and narrative. Each heard field plays exactly the audio it came from; required fields that
// were not heard are placeholders to fill or mark "not stated" before the witness sees it.
// Every change is a PATCH with base_version, so an edit made elsewhere is never overwritten.
import { api, ApiError, el, showError, statusText, TEMPLATE_NAMES } from "./api.js";
import { FIELD_ORDER, fieldHint, fieldLabel, flagName, inputMode } from "./fields.js";

const $ = (id) => document.getElementById(id);
const root = $("review");
const statementId = root.dataset.statementId;
const REQUIRED = JSON.parse(root.dataset.required || "{}");
// A required name another answers: "over 18" answers the witness's age.
const SATISFIED_BY = JSON.parse(root.dataset.satisfiedBy || "{}");
const base = `/api/v1/statements/${encodeURIComponent(statementId)}`;

const progress = $("progress");
const progressText = $("progress-text");
const progressBar = $("progress-bar");
const errorBox = $("review-error");
const draft = $("draft");
const player = $("player");
const fieldsBox = $("fields");
const flagsBox = $("flags");
const narrative = $("narrative");
const saveNarrative = $("save-narrative");
const saveState = $("save-state");
const toWitness = $("to-witness");
const openPlaceholders = $("open-placeholders");
const addSelect = $("add-field");
const addButton = $("add-field-button");

const DRAFTING = new Set(["received", "transcribing"]);

let record = null; // the statement as the API last returned it
let narrativeDirty = false;
let events = null;
const openEditors = new Set(); // fields whose editor is open (added with "Add" or "Edit")

function fail(error) {
  showError(errorBox, error);
}

// --- progress while drafting ---------------------------------------------------------------

const STAGES = {
  queued: () => "Waiting for a drafting worker…",
  decoding: () => "Reading the recording…",
  transcribing: (d) => `Transcribing: ${d.percent ?? 0}%`,
  extracting: () => "Finding the statement's fields…",
  retrying: (d) => `A problem (${d.reason || "unknown"}); trying again (attempt ${d.attempt} of ${d.max_attempts})…`,
  draft_ready: () => "The draft is ready.",
  failed: (d) => `Drafting failed: ${d.message || d.code}`,
};

function showStage(kind, data) {
  const text = STAGES[kind];
  if (!text) return;
  progressText.textContent = text(data || {});
  if (kind === "transcribing" && typeof data.percent === "number") {
    progressBar.value = data.percent;
  } else if (kind === "extracting" || kind === "draft_ready") {
    progressBar.value = 100;
  }
}

function follow() {
  if (events) return;
  events = new EventSource(`${base}/events`);
  for (const kind of Object.keys(STAGES)) {
    events.addEventListener(kind, (message) => {
      let event = {};
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      showStage(kind, event.data || {});
      if (kind === "draft_ready" || kind === "failed") finishFollowing();
    });
  }
  events.addEventListener("error", async () => {
    // The stream ends once drafting is over (the browser would reconnect for ever), or the
    // signal dropped (it reconnects and misses nothing): ask which.
    try {
      const state = await api(`${base}/progress?after=2147483647`); // only "done" is wanted
      if (state.done) finishFollowing();
    } catch (error) {
      if (error instanceof ApiError) {
        stopFollowing();
        fail(error);
      }
    }
  });
}

function stopFollowing() {
  if (events) events.close();
  events = null;
}

function finishFollowing() {
  stopFollowing();
  load();
}

// --- the draft -----------------------------------------------------------------------------

function content() {
  return (record && record.statement) || { fields: {}, details: {}, flags: [], narrative: "", not_stated: [] };
}

function editable() {
  return record && record.status === "draft";
}

function required() {
  return (record && REQUIRED[record.template]) || [];
}

/** A field's or a template detail's value as heard or entered ("over 18" is a detail). */
function itemOf(c, name) {
  return (c.fields || {})[name] || (c.details || {})[name];
}

/** Required fields neither heard nor marked not stated, nor answered by an alternative. */
function unanswered() {
  const c = content();
  const answered = (name) => Boolean(itemOf(c, name)) || (c.not_stated || []).includes(name);
  return required().filter((name) => !answered(name) && !(SATISFIED_BY[name] || []).some(answered));
}

/** The names that answer an unanswered required field instead of it ("over 18"). */
function openAlternatives() {
  return unanswered().flatMap((name) => SATISFIED_BY[name] || []);
}

function flagNode(flag) {
  // The service names fields as "incident.date"; people read "Date of the incident".
  const reason = flag.field && flag.reason
    ? flag.reason.split(flag.field).join(fieldLabel(flag.field).toLowerCase())
    : flag.reason;
  return el("span", { class: `flag ${flag.kind}`, title: reason || "" },
    `${flagName(flag.kind)}${reason ? `: ${reason}` : ""}`);
}

function fieldError(name) {
  return el("p", { class: "error field-error", role: "alert", id: `error-${name.replace(/\W/g, "-")}` });
}

function editor(name, value, { placeholder }) {
  const inputId = `input-${name.replace(/\W/g, "-")}`;
  const input = el("input", {
    id: inputId,
    class: "field-input",
    type: "text",
    inputmode: inputMode(name),
    autocomplete: "off",
    placeholder: fieldHint(name),
    value: value ?? "",
  });
  const box = el(
    "div",
    { class: "editor" },
    el("label", { for: inputId }, placeholder ? `${fieldLabel(name)}: not heard. Fill in:` : `New value for ${fieldLabel(name).toLowerCase()}`),
    input,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "save", onclick: () => saveField(name, input) }, "Save"),
      el("button", { type: "button", class: "not-stated secondary", onclick: () => markNotStated(name) }, "Not stated"),
      placeholder
        ? null
        : el("button", { type: "button", class: "cancel secondary", onclick: () => closeEditor(name) }, "Cancel"),
    ),
  );
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      saveField(name, input);
    }
  });
  return box;
}

function playButton(name, item) {
  const heard = item && typeof item.start_s === "number" && typeof item.end_s === "number";
  return el(
    "button",
    {
      type: "button",
      class: "play secondary",
      disabled: !heard,
      dataset: heard ? { start: item.start_s, end: item.end_s } : {},
      "aria-label": heard ? `Play what was said for ${fieldLabel(name).toLowerCase()}` : "No audio for this field",
      onclick: heard ? () => playSpan(item.start_s, item.end_s) : undefined,
    },
    heard ? "▶ Play" : "No audio",
  );
}

function fieldNode(name, flags) {
  const c = content();
  const item = itemOf(c, name);
  const notStated = (c.not_stated || []).includes(name);
  const isRequired = required().includes(name);
  const isAlternative = openAlternatives().includes(name);
  const own = flags.filter((flag) => flag.field === name);
  const classes = ["field"];
  if (!item && !notStated) classes.push("placeholder");
  if (notStated) classes.push("not-stated");
  if (own.some((flag) => flag.kind === "safeguarding")) classes.push("safeguarding");
  const node = el("div", { class: classes.join(" "), dataset: { name }, role: "group", "aria-label": fieldLabel(name) });
  node.append(el("span", { class: "label" }, fieldLabel(name), isRequired ? el("span", { class: "visually-hidden" }, " (required)") : null));
  if (!item && !notStated) {
    // A placeholder: the witness's answer, or "not stated", before anything else.
    node.append(...own.map(flagNode));
    if (!isAlternative && !own.some((flag) => flag.kind === "missing_required")) {
      node.append(flagNode({ kind: "missing_required", reason: `${fieldLabel(name)} was not stated` }));
    }
    if (editable()) node.append(editor(name, "", { placeholder: true }), fieldError(name));
    else node.append(el("span", { class: "value not-stated" }, "not given"));
    return node;
  }
  if (notStated) {
    node.append(el("span", { class: "value not-stated" }, "not stated"));
  } else {
    node.append(el("span", { class: "value" }, String(item.value)));
    if (item.text && String(item.text) !== String(item.value)) {
      node.append(el("p", { class: "evidence" }, `Heard: “${item.text}”`));
    }
    if (item.source === "officer") node.append(el("p", { class: "evidence" }, "Entered by the officer."));
  }
  node.append(...own.map(flagNode));
  const actions = el("div", { class: "actions" }, notStated ? null : playButton(name, item));
  if (editable()) {
    actions.append(el("button", { type: "button", class: "edit secondary", onclick: () => openEditor(name) },
      notStated ? "Fill in" : "Edit"));
  }
  node.append(actions);
  if (openEditors.has(name) && editable()) {
    node.append(editor(name, item ? item.value : "", { placeholder: false }), fieldError(name));
  }
  return node;
}

function renderFields() {
  const c = content();
  const flags = c.flags || [];
  const open = [...unanswered(), ...openAlternatives()];
  const shown = FIELD_ORDER.filter(
    (name) => Boolean(itemOf(c, name)) || (c.not_stated || []).includes(name) ||
      open.includes(name) || openEditors.has(name),
  );
  fieldsBox.replaceChildren(...shown.map((name) => fieldNode(name, flags)));
  const loose = flags.filter((flag) => !flag.field || !shown.includes(flag.field));
  // Safeguarding first: it is what must not be missed.
  loose.sort((a, b) => (b.kind === "safeguarding") - (a.kind === "safeguarding"));
  flagsBox.replaceChildren(...loose.map(flagNode));
  const addable = FIELD_ORDER.filter((name) => !shown.includes(name));
  addSelect.replaceChildren(...addable.map((name) => el("option", { value: name }, fieldLabel(name))));
  addSelect.closest(".card").hidden = !editable() || addable.length === 0;
}

function renderGate() {
  const open = editable() ? unanswered() : [];
  if (open.length) {
    toWitness.setAttribute("aria-disabled", "true");
    openPlaceholders.hidden = false;
    openPlaceholders.textContent =
      `Before the witness reads it: fill in or mark “not stated”: ${open.map(fieldLabel).join(", ")}.`;
  } else {
    toWitness.removeAttribute("aria-disabled");
    openPlaceholders.hidden = true;
  }
  toWitness.textContent = editable() || !record ? "Go through it with the witness" : "Open the witness page";
}

function render() {
  const c = content();
  $("status").textContent = statusText(record.status);
  $("status").className = `status ${record.status}`;
  $("version").textContent = String(record.current_version);
  $("template-name").textContent = TEMPLATE_NAMES[record.template] || record.template;
  if (DRAFTING.has(record.status)) return;
  if (progress.isConnected) progress.remove(); // drafting is over: no progress to show
  if (record.status === "failed") {
    const failure = record.failure || {};
    errorBox.textContent = `Drafting failed: ${failure.message || failure.code || "unknown reason"}. ` +
      "The recording is kept; ask your administrator to look at it.";
    draft.hidden = true;
    return;
  }
  if (!record.statement) {
    errorBox.textContent = `This statement has no draft (${statusText(record.status)}).`;
    draft.hidden = true;
    return;
  }
  draft.hidden = false;
  renderFields();
  if (!narrativeDirty) narrative.value = c.narrative || "";
  narrative.readOnly = !editable();
  saveNarrative.hidden = !editable();
  renderGate();
}

async function load() {
  try {
    record = await api(base);
    errorBox.textContent = "";
    render();
    if (DRAFTING.has(record.status)) follow();
  } catch (error) {
    fail(error);
  }
}

// --- edits ---------------------------------------------------------------------------------

async function patch(body, { field } = {}) {
  const errorEl = field ? document.getElementById(`error-${field.replace(/\W/g, "-")}`) : null;
  if (errorEl) errorEl.textContent = "";
  errorBox.textContent = "";
  try {
    record = await api(base, { method: "PATCH", json: { ...body, base_version: record.current_version } });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === "edit_conflict") {
      errorBox.textContent = "Someone else changed this statement. It has been reloaded: make your change again.";
      await load();
      return false;
    }
    if (error instanceof ApiError && error.status === 422 && errorEl) {
      errorEl.textContent = error.message;
      return false;
    }
    fail(error);
    return false;
  }
}

function focusField(name, selector) {
  const node = fieldsBox.querySelector(`.field[data-name="${CSS.escape(name)}"]`);
  const target = node && (node.querySelector(selector) || node.querySelector("button"));
  if (target) target.focus();
}

async function saveField(name, input) {
  const value = input.value.trim();
  if (!value) {
    const errorEl = document.getElementById(`error-${name.replace(/\W/g, "-")}`);
    if (errorEl) errorEl.textContent = "Type the witness's answer, or press “Not stated”.";
    input.focus();
    return;
  }
  if (await patch({ fields: { [name]: value } }, { field: name })) {
    openEditors.delete(name);
    render();
    focusField(name, "button.edit");
  }
}

async function markNotStated(name) {
  if (await patch({ not_stated: [name] }, { field: name })) {
    openEditors.delete(name);
    render();
    focusField(name, "button.edit");
  }
}

function openEditor(name) {
  openEditors.add(name);
  renderFields();
  focusField(name, "input.field-input");
}

function closeEditor(name) {
  openEditors.delete(name);
  renderFields();
  focusField(name, "button.edit");
}

async function saveNarrativeText() {
  if (!narrative.value.trim()) {
    saveState.textContent = "The narrative cannot be empty.";
    return false;
  }
  saveNarrative.disabled = true;
  saveState.textContent = "Saving…";
  const ok = await patch({ narrative: narrative.value });
  saveNarrative.disabled = false;
  if (ok) {
    narrativeDirty = false;
    render();
    saveState.textContent = `Saved as version ${record.current_version}.`;
  } else {
    saveState.textContent = "Not saved.";
  }
  return ok;
}

narrative.addEventListener("input", () => {
  narrativeDirty = true;
  saveState.textContent = "Not saved yet.";
});
saveNarrative.addEventListener("click", saveNarrativeText);
addButton.addEventListener("click", () => {
  if (addSelect.value) openEditor(addSelect.value);
});

toWitness.addEventListener("click", async (event) => {
  if (toWitness.getAttribute("aria-disabled") === "true") {
    event.preventDefault();
    openPlaceholders.focus();
    const first = unanswered()[0];
    if (first) focusField(first, "input.field-input");
    return;
  }
  if (narrativeDirty && editable()) {
    event.preventDefault();
    if (await saveNarrativeText()) location.assign(toWitness.href);
  }
});

window.addEventListener("beforeunload", (event) => {
  if (narrativeDirty) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// --- playing exactly the span a field came from ------------------------------------------

let stopAt = null;
let watching = 0;

function watch() {
  cancelAnimationFrame(watching);
  const step = () => {
    if (stopAt === null) return;
    if (player.currentTime >= stopAt || player.ended) {
      player.pause();
      stopAt = null;
      return;
    }
    watching = requestAnimationFrame(step);
  };
  watching = requestAnimationFrame(step);
}

function playSpan(start, end) {
  const go = () => {
    player.currentTime = start;
    stopAt = end;
    player.play().then(watch, (error) => {
      stopAt = null;
      errorBox.textContent = `The recording could not be played: ${error.message}`;
    });
  };
  if (player.readyState >= 1) {
    go();
  } else {
    player.preload = "auto";
    player.addEventListener("loadedmetadata", go, { once: true });
    player.load();
  }
}

player.addEventListener("pause", () => {
  stopAt = null;
});
// A Stop watch that also works when the tab is in the background (no animation frames).
player.addEventListener("timeupdate", () => {
  if (stopAt !== null && player.currentTime >= stopAt) {
    player.pause();
    stopAt = null;
  }
});
player.addEventListener("error", () => {
  errorBox.textContent = "The recording could not be loaded. Check the signal and try again.";
});

load();
