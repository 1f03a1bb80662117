// One statement at the case builder's desk (/cases/{id}).
//
// The case builder consults a statement that is not their own: the page asks why first, then
// reads the statement, its recording and its exports from the JSON API with that reason in the
// X-Justification header (each reading is logged with it). The recording is fetched the same
// way, as a Blob played from an object URL, because <audio src> cannot send a header.
//
// Everything from the statement is witness data: it is shown as text (el() never parses HTML).
import {
  api,
  ApiError,
  el,
  formatClock,
  formatDate,
  formatDateTime,
  say,
  signInAgain,
  statusText,
  TEMPLATE_NAMES,
} from "./api.js";

const root = document.getElementById("case");
const statementId = root.dataset.statementId;
const base = `/api/v1/statements/${encodeURIComponent(statementId)}`;
const can = {
  listen: root.dataset.canListen === "true",
  export: root.dataset.canExport === "true",
  submit: root.dataset.canSubmit === "true",
};

const $ = (id) => document.getElementById(id);
const form = $("justify");
const reasonInput = $("justification");
const openButton = $("open");
const openError = $("open-error");
const view = $("statement-view");
const player = $("player");
const audioState = $("audio-state");
const transcriptBox = $("transcript");
const actionMessage = $("action-message");
const submitButton = $("submit");

const FIELD_LABELS = {
  "witness.name": "Witness name",
  "witness.age": "Witness age",
  "witness.date_of_birth": "Witness date of birth",
  "witness.occupation": "Witness occupation",
  "witness.address": "Witness address",
  "witness.postcode": "Witness postcode",
  "witness.phone": "Witness phone",
  "witness.email": "Witness email",
  "incident.date": "Date of the incident",
  "incident.time": "Time of the incident",
  "incident.location": "Where it happened",
  "missing.name": "Missing person's name",
  "missing.age": "Missing person's age",
  "missing.last_seen_date": "Last seen (date)",
  "missing.last_seen_time": "Last seen (time)",
  "missing.last_seen_location": "Last seen (where)",
  "missing.clothing": "Clothing",
  "missing.height": "Height",
  narrative: "Narrative",
};
const REQUIRED = {
  mg11: ["witness.name", "incident.date", "incident.location"],
  missing_person: [
    "witness.name",
    "missing.name",
    "missing.last_seen_date",
    "missing.last_seen_location",
    "missing.clothing",
  ],
};
const NOT_STATED = "not stated";
const DOUBTFUL_BELOW = 0.5; // a word heard with less probability than this is marked doubtful
const DIFF_MAX_CELLS = 4_000_000; // above this many LCS cells, a change is shown whole

let reason = ""; // the justification, as sent with every reading
let statement = null; // the last StatementPublic read
let words = []; // [{start, end, node}] in time order
let currentWord = null;
let stopAt = null; // when playing one field's evidence: the second to stop at
let audioUrl = null;

const label = (name) => FIELD_LABELS[name] || name;

/**
 * A header value must be ISO-8859-1: typographic punctuation becomes its plain form, accented
 * letters outside Latin-1 lose their accent, anything else left becomes "?".
 */
function headerSafe(text) {
  const plain = text
    .replace(/[\u2018\u2019\u201A\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201E\u2033]/g, '"')
    .replace(/[\u2013\u2014\u2212]/g, "-")
    .replace(/\u2026/g, "...")
    .replace(/\s+/g, " ")
    .trim();
  return Array.from(plain)
    .map((c) => {
      if (c.codePointAt(0) <= 0xff) return c;
      const bare = c.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
      return bare && Array.from(bare).every((b) => b.codePointAt(0) <= 0xff) ? bare : "?";
    })
    .join("");
}

function withReason(extra = {}) {
  return { "X-Justification": reason, ...extra };
}

/** What to tell the user about a failed call; a session that ended sends them to sign in. */
function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) {
      signInAgain();
      return "Your sign-in has ended: signing in again.";
    }
    if (error.status === 404) {
      return (
        "There is no statement with this id that you may read. Case builders see the " +
        "statements of their unit once the witness has confirmed them."
      );
    }
    return error.message;
  }
  return "The service could not be reached: check the connection and try again.";
}

// --- opening -------------------------------------------------------------------------------

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const given = headerSafe(reasonInput.value);
  if (!given) {
    say(openError, "Say why you are consulting this statement.");
    reasonInput.setAttribute("aria-invalid", "true");
    reasonInput.focus();
    return;
  }
  reasonInput.removeAttribute("aria-invalid");
  say(openError, "");
  openButton.disabled = true;
  openButton.textContent = "Opening…";
  reason = given;
  try {
    statement = await api(base, { headers: withReason() });
  } catch (error) {
    say(openError, explain(error));
    openButton.disabled = false;
    openButton.textContent = "Open the statement";
    return;
  }
  form.hidden = true;
  view.hidden = false;
  $("reason-shown").textContent = reason;
  show(statement);
  $("statement-title").setAttribute("tabindex", "-1");
  $("statement-title").focus();
  loadAudio();
});

// --- showing the statement ------------------------------------------------------------------

function show(data) {
  const content = data.statement;
  showSummary(data);
  showFailure(data);
  showTranscript(content ? content.transcript : null, data);
  showFields(content, data.template);
  showNarrative(content);
  showVersions(data);
  showConfirmation(data.confirmation);
  showSubmission(data.submission);
  showActions(data);
}

function showSummary(data) {
  const status = $("status");
  status.textContent = statusText(data.status);
  status.className = `status ${data.status}`;
  $("summary-template").textContent = TEMPLATE_NAMES[data.template] || data.template;
  $("summary-date").textContent = formatDate(data.statement_date);
  $("summary-officer").textContent = data.officer;
  $("summary-version").textContent = `${data.current_version} (last change ${formatDateTime(
    data.updated_at,
  )})`;
  const audio = $("summary-audio");
  audio.replaceChildren(
    data.audio_duration_s ? `${formatClock(data.audio_duration_s)} · ` : "",
    `${data.audio_bytes.toLocaleString("en-GB")} bytes · SHA-256 `,
    el("code", { class: "hash" }, data.audio_sha256),
  );
}

function showFailure(data) {
  const box = $("failure");
  let message = "";
  if (data.status === "erased") {
    message = "This statement was erased under the retention policy: only its record remains.";
  } else if (data.failure) {
    message = `Drafting failed (${data.failure.code}): ${data.failure.message}`;
  } else if (!data.statement) {
    message = `The statement is ${statusText(data.status)}: its draft is not ready yet.`;
  }
  box.textContent = message;
  box.hidden = !message;
}

function showTranscript(transcript, data) {
  words = [];
  currentWord = null;
  if (!transcript || !Array.isArray(transcript.segments) || !transcript.segments.length) {
    transcriptBox.replaceChildren(
      el("p", { class: "empty" }, data.status === "erased" ? "Erased." : "No transcript."),
    );
    return;
  }
  const paragraphs = [];
  for (const segment of transcript.segments) {
    const paragraph = el("p", { class: "segment" });
    const timed = Array.isArray(segment.words) ? segment.words : [];
    if (!timed.length) {
      paragraph.append(String(segment.text || "").trim());
    }
    timed.forEach((word, index) => {
      const text = String(word.word || "").trim();
      if (!text) return;
      if (index > 0) paragraph.append(" ");
      const doubtful = typeof word.probability === "number" && word.probability < DOUBTFUL_BELOW;
      const node = el(
        "span",
        {
          class: doubtful ? "word doubtful" : "word",
          dataset: { start: String(word.start), end: String(word.end) },
          title: `${formatClock(word.start)}${doubtful ? " · heard with low confidence" : ""}`,
        },
        text,
      );
      words.push({ start: Number(word.start), end: Number(word.end), node });
      paragraph.append(node);
    });
    paragraphs.push(paragraph);
  }
  words.sort((a, b) => a.start - b.start);
  transcriptBox.replaceChildren(...paragraphs);
}

function fieldText(value) {
  return value === null || value === undefined ? "" : String(value);
}

function flagNodes(flags) {
  return flags.map((flag) =>
    el("span", { class: `flag ${flag.kind}`, title: flag.reason || "" }, statusText(flag.kind)),
  );
}

function playButton(item, name) {
  if (typeof item.start_s !== "number" || typeof item.end_s !== "number" || !can.listen) {
    return null;
  }
  return el(
    "button",
    {
      type: "button",
      class: "play secondary",
      "aria-label": `Play where ${label(name)} was heard, ${formatClock(item.start_s)} to ${formatClock(
        item.end_s,
      )}`,
      onclick: () => playSpan(item.start_s, item.end_s),
    },
    `Play ${formatClock(item.start_s)}–${formatClock(item.end_s)}`,
  );
}

function showFields(content, template) {
  const box = $("fields");
  const flagBox = $("flags");
  if (!content) {
    box.replaceChildren();
    flagBox.replaceChildren();
    return;
  }
  const fields = content.fields || {};
  const notStated = content.not_stated || [];
  const flags = content.flags || [];
  const names = Object.keys(fields);
  for (const name of [...(REQUIRED[template] || []), ...notStated]) {
    if (!names.includes(name)) names.push(name);
  }
  const nodes = names.map((name) => {
    const item = fields[name];
    const own = flags.filter((f) => f.field === name);
    const node = el("div", { class: "field", dataset: { name } });
    node.append(el("span", { class: "label" }, label(name)));
    if (item) {
      node.append(el("span", { class: "value" }, fieldText(item.value)));
      const evidence = el("p", { class: "evidence" });
      if (item.text) {
        evidence.append(
          item.source === "officer" ? "Corrected by the officer; heard as " : "Heard as ",
          el("q", {}, item.text),
        );
        if (typeof item.start_s === "number") {
          evidence.append(` at ${formatClock(item.start_s)}`);
        }
      } else {
        evidence.append(
          item.source === "officer" ? "Typed by the officer: not heard in the recording." : "",
        );
      }
      if (typeof item.confidence === "number" && item.source !== "officer") {
        evidence.append(` · confidence ${Math.round(item.confidence * 100)}%`);
      }
      node.append(evidence);
      const play = playButton(item, name);
      if (play) node.append(el("div", { class: "actions" }, play));
    } else if (notStated.includes(name)) {
      node.classList.add("not-stated");
      node.append(el("span", { class: "value not-stated" }, NOT_STATED));
      node.append(el("p", { class: "evidence" }, "The witness did not give it."));
    } else {
      node.classList.add("unanswered");
      node.append(el("span", { class: "value not-stated" }, "not filled in"));
    }
    if (own.length) node.append(el("div", { class: "field-flags" }, flagNodes(own)));
    return node;
  });
  box.replaceChildren(...nodes);
  const loose = flags.filter((f) => !f.field || !names.includes(f.field));
  flagBox.replaceChildren(
    ...(loose.length
      ? [el("p", { class: "flag-list" }, flagNodes(loose)), ...loose.map((f) => flagReason(f))]
      : []),
  );
  showOthers(content);
}

function flagReason(flag) {
  return el("p", { class: "hint flag-reason" }, `${statusText(flag.kind)}: ${flag.reason || ""}`);
}

function showOthers(content) {
  const rows = [];
  for (const person of content.persons || []) {
    rows.push(
      el("li", {}, `${person.name} (${person.role})${person.description ? `: ${person.description}` : ""}`),
    );
  }
  for (const vehicle of content.vehicles || []) {
    const about = [vehicle.colour, vehicle.make, vehicle.model].filter(Boolean).join(" ");
    rows.push(el("li", {}, `Vehicle ${vehicle.registration}${about ? ` (${about})` : ""}`));
  }
  for (const weapon of content.weapons || []) {
    rows.push(el("li", {}, `Weapon: ${weapon.value}`));
  }
  $("others").replaceChildren(
    ...(rows.length ? [el("h3", {}, "Also named"), el("ul", { class: "others" }, rows)] : []),
  );
}

function showNarrative(content) {
  const text = content ? String(content.narrative || "") : "";
  $("narrative").replaceChildren(
    ...(text
      ? text.split(/\n{2,}/).map((part) => el("p", {}, part))
      : [el("p", { class: "empty" }, "No narrative.")]),
  );
}

// --- versions and the diff from the machine draft -------------------------------------------

/** Each changed part: its machine-draft text (the first change's old value) and its text now. */
function changedParts(data) {
  const content = data.statement || {};
  const origin = new Map();
  for (const version of data.versions || []) {
    for (const change of version.changes || []) {
      if (!origin.has(change.field)) origin.set(change.field, change.old);
    }
  }
  const now = (name) => {
    if (name === "narrative") return content.narrative;
    const item = (content.fields || {})[name];
    if (item) return item.value;
    return (content.not_stated || []).includes(name) ? NOT_STATED : null;
  };
  const parts = [...origin.entries()].map(([name, old]) => ({
    name,
    before: fieldText(old),
    after: fieldText(now(name)),
  }));
  // The narrative first: it is what the witness signs.
  parts.sort((a, b) => (a.name === "narrative" ? -1 : b.name === "narrative" ? 1 : 0));
  return parts;
}

/**
 * A word-level diff: [["same"|"del"|"ins", word], ...], by the longest common subsequence of
 * the two texts' words (common ends trimmed first, so a long text with a small change is cheap).
 */
export function diffWords(before, after) {
  const x = before.split(/\s+/).filter(Boolean);
  const y = after.split(/\s+/).filter(Boolean);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start += 1;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX -= 1;
    endY -= 1;
  }
  const a = x.slice(start, endX);
  const b = y.slice(start, endY);
  const n = a.length;
  const m = b.length;
  const middle = [];
  if ((n + 1) * (m + 1) > DIFF_MAX_CELLS) {
    a.forEach((w) => middle.push(["del", w]));
    b.forEach((w) => middle.push(["ins", w]));
  } else {
    const width = m + 1;
    const table = new Uint32Array((n + 1) * width); // table[i][j]: LCS of a[i:] and b[j:]
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        table[i * width + j] =
          a[i] === b[j]
            ? table[(i + 1) * width + j + 1] + 1
            : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) {
        middle.push(["same", a[i]]);
        i += 1;
        j += 1;
      } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
        middle.push(["del", a[i]]);
        i += 1;
      } else {
        middle.push(["ins", b[j]]);
        j += 1;
      }
    }
    while (i < n) middle.push(["del", a[i++]]);
    while (j < m) middle.push(["ins", b[j++]]);
  }
  return [
    ...x.slice(0, start).map((w) => ["same", w]),
    ...middle,
    ...x.slice(endX).map((w) => ["same", w]),
  ];
}

/** The diff as text, <del> and <ins> nodes, runs of one kind kept together. */
function diffNodes(ops) {
  const runs = [];
  for (const [kind, word] of ops) {
    const last = runs[runs.length - 1];
    if (last && last.kind === kind) last.words.push(word);
    else runs.push({ kind, words: [word] });
  }
  const nodes = [];
  runs.forEach((run, index) => {
    if (index > 0) nodes.push(" ");
    const text = run.words.join(" ");
    nodes.push(run.kind === "same" ? text : el(run.kind, {}, text));
  });
  return nodes;
}

function showVersions(data) {
  const box = $("versions");
  const versions = data.versions || [];
  if (!versions.length) {
    box.replaceChildren(el("p", { class: "empty" }, "No versions: nothing was drafted."));
    return;
  }
  const confirmed = data.confirmation ? data.confirmation.version : null;
  const list = el(
    "ol",
    { class: "version-list" },
    versions.map((v) => {
      const what =
        v.kind === "machine"
          ? "Machine draft"
          : `Edit: ${(v.changes || []).map((c) => label(c.field)).join(", ") || "no change"}`;
      return el(
        "li",
        { class: "version", dataset: { number: String(v.number) } },
        el("strong", {}, `Version ${v.number}`),
        ` · ${what} · ${v.author} · ${formatDateTime(v.created_at)}`,
        v.number === confirmed ? el("span", { class: "status confirmed" }, "confirmed") : "",
      );
    }),
  );
  const last = versions[versions.length - 1].number;
  const target = confirmed !== null ? `the confirmed text (version ${confirmed})` : `version ${last}`;
  const parts = changedParts(data);
  const diff = el("div", { class: "diff", id: "diff" });
  diff.append(el("h3", {}, `From the machine draft (version 1) to ${target}`));
  if (!parts.length) {
    diff.append(
      el("p", { class: "no-change" }, "No edits: the text is the machine draft, word for word."),
    );
  } else {
    diff.append(
      el(
        "p",
        { class: "hint diff-key" },
        "Words taken out are struck through in red; words put in are underlined in green.",
      ),
    );
    for (const part of parts) {
      const ops = diffWords(part.before, part.after);
      const body =
        part.before === part.after
          ? [part.after || "(empty)", el("span", { class: "hint" }, " (changed, then changed back)")]
          : diffNodes(ops);
      diff.append(
        el(
          "div",
          { class: "diff-part", dataset: { name: part.name } },
          el("span", { class: "label" }, label(part.name)),
          el(part.name === "narrative" ? "p" : "span", { class: "diff-text" }, body),
        ),
      );
    }
  }
  box.replaceChildren(list, diff);
}

// --- the records of confirmation and submission ---------------------------------------------

function definitionList(rows) {
  return el(
    "dl",
    { class: "record" },
    rows
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value))),
  );
}

function showConfirmation(confirmation) {
  const box = $("confirmation");
  if (!confirmation) {
    box.replaceChildren(el("p", { class: "empty" }, "Not confirmed with the witness yet."));
    return;
  }
  box.replaceChildren(
    definitionList([
      ["Confirmed by", confirmation.officer],
      ["When", formatDateTime(confirmation.confirmed_at)],
      ["Where", confirmation.place],
      ["Version", String(confirmation.version)],
      ["Declaration accepted", confirmation.witness_declaration_accepted ? "yes" : "no"],
      ["Pages", String(confirmation.page_count)],
      ["Content SHA-256", el("code", { class: "hash" }, confirmation.content_sha256)],
      [
        "Signature SHA-256",
        confirmation.signature_sha256
          ? el("code", { class: "hash" }, confirmation.signature_sha256)
          : "no signature image",
      ],
    ]),
    el("p", { class: "declaration" }, confirmation.declaration),
  );
}

function showSubmission(deliveries) {
  const box = $("submission");
  const all = deliveries || [];
  if (!all.length) {
    box.replaceChildren(el("p", { class: "empty" }, "Not submitted."));
    return;
  }
  box.replaceChildren(
    ...all.map((d) =>
      el(
        "div",
        { class: `delivery ${d.kind}`, dataset: { kind: d.kind, state: d.state } },
        el("h3", {}, d.kind === "submission" ? "To the prosecutor" : `${statusText(d.kind)}`),
        definitionList([
          ["State", el("span", { class: `status delivery-state ${d.state}` }, statusText(d.state))],
          ["Attempts", `${d.attempts} of ${d.max_attempts}`],
          ["Recipient", d.destination],
          ["Delivered", d.delivered_at ? formatDateTime(d.delivered_at) : ""],
          ["Next attempt", d.next_attempt_at ? formatDateTime(d.next_attempt_at) : ""],
          ["Last answer", d.last_status ? String(d.last_status) : ""],
          ["Last error", d.last_error],
        ]),
      ),
    ),
  );
}

function showActions(data) {
  if (submitButton) submitButton.hidden = !(can.submit && data.status === "confirmed");
}

// --- the recording ----------------------------------------------------------------------------

async function loadAudio() {
  if (!can.listen) {
    say(audioState, "Your role does not play recordings.");
    player.hidden = true;
    return;
  }
  if (statement.status === "erased") {
    say(audioState, "The recording was erased.");
    player.hidden = true;
    return;
  }
  say(audioState, "Fetching the recording…");
  try {
    const response = await api(`${base}/audio`, {
      headers: withReason({ Accept: "audio/*, */*" }),
      raw: true,
    });
    const blob = await response.blob();
    if (audioUrl) URL.revokeObjectURL(audioUrl);
    audioUrl = URL.createObjectURL(blob);
    player.src = audioUrl;
    say(audioState, "");
    root.dataset.audio = "ready";
  } catch (error) {
    say(audioState, `The recording could not be fetched: ${explain(error)}`);
    root.dataset.audio = "failed";
  }
}

window.addEventListener("pagehide", () => {
  if (audioUrl) URL.revokeObjectURL(audioUrl);
});

/** The index of the last word that starts at or before ``t`` (-1: none yet). */
function wordAt(t) {
  let low = 0;
  let high = words.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (words[mid].start <= t + 1e-3) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

function keepInView(node) {
  const box = transcriptBox;
  if (box.scrollHeight <= box.clientHeight) return; // not a scrolling box (narrow screens)
  const top = node.offsetTop - box.offsetTop;
  if (top < box.scrollTop || top + node.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }
}

function highlight() {
  const t = player.currentTime;
  if (stopAt !== null && t >= stopAt) {
    player.pause();
    stopAt = null;
  }
  const index = wordAt(t);
  const node = index >= 0 ? words[index].node : null;
  if (node === currentWord) return;
  if (currentWord) currentWord.classList.remove("current");
  currentWord = node;
  if (node) {
    node.classList.add("current");
    if (!player.paused) keepInView(node);
  }
}

// timeupdate comes about four times a second; while playing, each frame also moves the
// highlight, so that it keeps up with quick speech.
let frame = 0;
function tick() {
  highlight();
  frame = player.paused ? 0 : requestAnimationFrame(tick);
}
player.addEventListener("timeupdate", highlight);
player.addEventListener("seeked", highlight);
player.addEventListener("play", () => {
  if (!frame) frame = requestAnimationFrame(tick);
});
player.addEventListener("pause", () => {
  // A pause the user makes ends playing a field's span, too.
  stopAt = null;
});

function seek(seconds, play = true) {
  if (!player.src) {
    say(audioState, "The recording is not loaded.");
    return;
  }
  player.currentTime = Math.max(0, seconds);
  highlight();
  if (play) {
    player.play().catch(() => {
      say(audioState, "Press play to listen.");
    });
  }
}

function playSpan(start, end) {
  seek(start, false);
  stopAt = end;
  player.play().catch(() => {
    stopAt = null;
    say(audioState, "Press play to listen.");
  });
}

transcriptBox.addEventListener("click", (event) => {
  const word = event.target.closest("span.word");
  if (!word) return;
  stopAt = null;
  seek(Number(word.dataset.start));
});

// --- exports and submission -------------------------------------------------------------------

async function download(kind) {
  const button = $(`export-${kind}`);
  button.disabled = true;
  say(actionMessage, `Preparing the ${kind.toUpperCase()}…`);
  try {
    const response = await api(`${base}/export.${kind}`, {
      headers: withReason({ Accept: kind === "pdf" ? "application/pdf" : "application/json" }),
      raw: true,
    });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `statement-${statementId}.${kind}`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(actionMessage, `Downloaded statement-${statementId}.${kind}.`);
  } catch (error) {
    say(actionMessage, `The ${kind.toUpperCase()} could not be made: ${explain(error)}`);
  } finally {
    button.disabled = false;
  }
}

if (can.export) {
  $("export-pdf").addEventListener("click", () => download("pdf"));
  $("export-json").addEventListener("click", () => download("json"));
}

if (submitButton) {
  submitButton.addEventListener("click", async () => {
    submitButton.disabled = true;
    say(actionMessage, "Submitting…");
    try {
      statement = await api(`${base}/submit`, {
        method: "POST",
        json: { justification: reason },
      });
      showSummary(statement);
      showSubmission(statement.submission);
      showActions(statement);
      say(actionMessage, "Submitted: the statement is on its way to the prosecutor.");
    } catch (error) {
      say(actionMessage, `Not submitted: ${explain(error)}`);
    } finally {
      submitButton.disabled = false;
    }
  });
}
