// The recording page: record with MediaRecorder, show the input level and the time, keep the
// recording on the phone (IndexedDB) the moment it stops, then upload it in resumable chunks
// whenever there is signal. Every recording still on the phone resumes on page load and when
// the signal returns ("online"); the phone's copy is deleted only once the service holds the
// whole recording with the same SHA-256.
import { ApiError, el, formatClock, TEMPLATE_NAMES, userId } from "./api.js";
import {
  allRecordings,
  askToKeepStorage,
  deleteRecording,
  putRecording,
  sha256Hex,
  updateRecording,
} from "./recordings.js";
import { uploadRecording } from "./uploader.js";

const $ = (id) => document.getElementById(id);
const templateSelect = $("template");
const recordButton = $("record");
const pauseButton = $("pause");
const stopButton = $("stop");
const elapsedEl = $("elapsed");
const meter = $("level");
const levelHint = $("level-hint");
const recordingState = $("recording-state");
const recorderError = $("recorder-error");
const savedList = $("saved-list");
const safeToClose = $("safe-to-close");
const networkState = $("network-state");

/** Level (0..1) under which the microphone counts as silent, and for how long a silence while
 * recording is reported as a possibly dead or covered microphone. */
const SILENT_LEVEL = 0.05;
const SILENT_WARNING_MS = 4000;
/** The meter spans this many decibels below full scale: quiet speech reads about a third. */
const METER_RANGE_DB = 60;
/** Waits before trying a failed upload again (doubling up to the last), unless the signal
 * comes back first. */
const RETRY_DELAYS_MS = [5000, 10000, 20000, 40000, 60000];

const PREFERRED_TYPES = [
  "audio/webm;codecs=opus",
  "audio/webm",
  "audio/ogg;codecs=opus",
  "audio/mp4",
];
const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3" };

// --- recording ------------------------------------------------------------------------------

const session = {
  stream: null,
  recorder: null,
  chunks: [],
  context: null,
  analyser: null,
  samples: null,
  timer: null,
  startedAt: 0, // when the current stretch of recording started (not counting pauses)
  accumulatedMs: 0,
  silentSince: null,
  wakeLock: null,
  template: "mg11",
};

function elapsedMs() {
  const running = session.recorder && session.recorder.state === "recording";
  return session.accumulatedMs + (running ? performance.now() - session.startedAt : 0);
}

function showControls(state) {
  // state: idle | recording | paused | saving
  recordButton.disabled = state !== "idle";
  pauseButton.disabled = state !== "recording" && state !== "paused";
  stopButton.disabled = state !== "recording" && state !== "paused";
  templateSelect.disabled = state !== "idle";
  const paused = state === "paused";
  pauseButton.textContent = paused ? "▶ Resume" : "❚❚ Pause";
  pauseButton.setAttribute("aria-label", paused ? "Resume" : "Pause");
  pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
  document.body.dataset.recorder = state;
  updateSafeToClose();
}

function pickType() {
  if (!window.MediaRecorder || !MediaRecorder.isTypeSupported) return "";
  return PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
}

function micProblem(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The microphone is blocked for this site. Allow it in Chrome's site settings, then try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Check that one is connected.";
    case "NotReadableError":
      return "The microphone is in use by another app, or it failed. Close other apps using it and try again.";
    default:
      return `The microphone could not start: ${error && error.message ? error.message : error}`;
  }
}

function readLevel() {
  if (!session.analyser) return 0;
  session.analyser.getFloatTimeDomainData(session.samples);
  let sum = 0;
  for (const sample of session.samples) sum += sample * sample;
  const rms = Math.sqrt(sum / session.samples.length);
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + METER_RANGE_DB) / METER_RANGE_DB));
}

function tick() {
  elapsedEl.textContent = formatClock(elapsedMs() / 1000);
  const recording = session.recorder && session.recorder.state === "recording";
  const level = recording ? readLevel() : 0;
  meter.value = level;
  meter.textContent = `${Math.round(level * 100)}%`;
  if (!recording) {
    session.silentSince = null;
    return;
  }
  const now = performance.now();
  if (level >= SILENT_LEVEL) {
    session.silentSince = null;
    levelHint.textContent = "The microphone hears you.";
    levelHint.className = "hint";
  } else {
    session.silentSince = session.silentSince ?? now;
    if (now - session.silentSince > SILENT_WARNING_MS) {
      levelHint.textContent =
        "The microphone hears nothing. Check it is not covered or muted, and speak closer.";
      levelHint.className = "warning";
    }
  }
}

async function keepScreenOn() {
  try {
    if (navigator.wakeLock) session.wakeLock = await navigator.wakeLock.request("screen");
  } catch (_) {
    // not allowed (battery saver): recording still works while the screen is on
  }
}

function releaseDevices() {
  if (session.timer) clearInterval(session.timer);
  session.timer = null;
  if (session.stream) session.stream.getTracks().forEach((track) => track.stop());
  if (session.context) session.context.close().catch(() => {});
  if (session.wakeLock) session.wakeLock.release().catch(() => {});
  Object.assign(session, { stream: null, context: null, analyser: null, wakeLock: null });
  meter.value = 0;
}

async function startRecording() {
  recorderError.textContent = "";
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
    recorderError.textContent =
      "This browser cannot record here. Use Chrome, and open the service over https.";
    return;
  }
  showControls("saving");
  recordingState.textContent = "Starting the microphone…";
  try {
    session.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    recorderError.textContent = micProblem(error);
    recordingState.textContent = "Ready to record.";
    showControls("idle");
    return;
  }
  const type = pickType();
  session.recorder = new MediaRecorder(session.stream, type ? { mimeType: type } : undefined);
  session.chunks = [];
  session.template = templateSelect.value;
  session.recorder.addEventListener("dataavailable", (event) => {
    if (event.data && event.data.size > 0) session.chunks.push(event.data);
  });
  session.recorder.addEventListener("stop", () => {
    saveRecording().catch((error) => {
      recorderError.textContent = `The recording could not be saved on this phone: ${error.message}`;
      recordingState.textContent = "Not saved.";
      showControls("idle");
    });
  });
  session.recorder.addEventListener("error", (event) => {
    recorderError.textContent = `Recording failed: ${event.error ? event.error.message : "unknown error"}`;
  });
  try {
    session.context = new AudioContext();
    const source = session.context.createMediaStreamSource(session.stream);
    session.analyser = session.context.createAnalyser();
    session.analyser.fftSize = 2048;
    session.samples = new Float32Array(session.analyser.fftSize);
    source.connect(session.analyser);
    if (session.context.state === "suspended") await session.context.resume();
  } catch (_) {
    session.analyser = null; // the level meter is a help, not a need: record without it
  }
  session.accumulatedMs = 0;
  session.silentSince = null;
  session.startedAt = performance.now();
  // Data every second: if the browser stops the recorder (a call comes in), little is lost.
  session.recorder.start(1000);
  session.timer = setInterval(tick, 100);
  keepScreenOn();
  recordingState.textContent = "Recording…";
  showControls("recording");
}

function togglePause() {
  const recorder = session.recorder;
  if (!recorder) return;
  if (recorder.state === "recording") {
    session.accumulatedMs += performance.now() - session.startedAt;
    recorder.pause();
    recordingState.textContent = "Paused. Press Resume to carry on, or Stop to finish.";
    showControls("paused");
  } else if (recorder.state === "paused") {
    session.startedAt = performance.now();
    recorder.resume();
    recordingState.textContent = "Recording…";
    showControls("recording");
  }
  tick();
}

function stopRecording() {
  const recorder = session.recorder;
  if (!recorder || recorder.state === "inactive") return;
  if (recorder.state === "recording") session.accumulatedMs += performance.now() - session.startedAt;
  showControls("saving");
  recordingState.textContent = "Saving the recording on this phone…";
  recorder.stop(); // "stop" follows the last "dataavailable": saveRecording runs then
}

function localDate() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

async function saveRecording() {
  const recorder = session.recorder;
  const mimeType = recorder.mimeType || (session.chunks[0] && session.chunks[0].type) || "audio/webm";
  const durationS = session.accumulatedMs / 1000;
  const blob = new Blob(session.chunks, { type: mimeType });
  session.recorder = null;
  session.chunks = [];
  releaseDevices();
  tick();
  if (blob.size === 0) {
    recorderError.textContent = "Nothing was recorded: the microphone gave no sound data.";
    recordingState.textContent = "Ready to record.";
    showControls("idle");
    return;
  }
  const localId = crypto.randomUUID();
  const extension = EXTENSIONS[mimeType.split(";")[0]] || "webm";
  const entry = {
    localId,
    userId: userId(),
    template: session.template,
    statementDate: localDate(),
    createdAt: new Date().toISOString(),
    durationS,
    mimeType,
    filename: `statement-${localId}.${extension}`,
    size: blob.size,
    sha256: await sha256Hex(blob),
    blob,
    uploadId: null,
    statementId: null,
  };
  await putRecording(entry); // committed to the phone's storage before any upload starts
  askToKeepStorage();
  showRow(entry);
  setState(localId, "saved on this phone", "saved");
  recordingState.textContent = "Saved on this phone.";
  showControls("idle");
  pump();
}

recordButton.addEventListener("click", startRecording);
pauseButton.addEventListener("click", togglePause);
stopButton.addEventListener("click", stopRecording);

window.addEventListener("beforeunload", (event) => {
  // Leaving while recording loses what is not stopped yet; a saved recording is never lost.
  if (session.recorder && session.recorder.state !== "inactive") {
    event.preventDefault();
    event.returnValue = "";
  }
});

// --- the recordings on this phone ----------------------------------------------------------

/** localId → { row, state: saved | uploading | uploaded | failed } */
const rows = new Map();
/** Recordings whose last upload was refused for a reason a retry would not change; they try
 * again on the Retry button or the next page load. */
const heldBack = new Set();

function describe(entry) {
  const when = new Date(entry.createdAt).toLocaleString("en-GB", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const kb = Math.max(1, Math.round(entry.size / 1024));
  return `${TEMPLATE_NAMES[entry.template] || entry.template} · ${formatClock(entry.durationS || 0)} · recorded ${when} · ${kb} KB`;
}

function showRow(entry) {
  if (rows.has(entry.localId)) return rows.get(entry.localId);
  const stateEl = el("span", { class: "upload-state", role: "status", "aria-live": "polite" });
  const retry = el("button", { type: "button", class: "secondary retry", hidden: true }, "Try again now");
  retry.addEventListener("click", () => {
    heldBack.delete(entry.localId);
    retryIndex = 0;
    pump();
  });
  const row = el(
    "li",
    { class: "recording", dataset: { localId: entry.localId } },
    el("span", { class: "row-title" }, describe(entry)),
    stateEl,
    retry,
  );
  savedList.prepend(row);
  const item = { row, stateEl, retry, state: "saved", percent: 0 };
  rows.set(entry.localId, item);
  return item;
}

function setState(localId, text, state) {
  const item = rows.get(localId);
  if (!item) return;
  item.state = state;
  item.stateEl.textContent = text;
  item.stateEl.className = `upload-state ${state}`;
  item.retry.hidden = state !== "failed";
  updateSafeToClose();
}

function updateSafeToClose() {
  const waiting = [...rows.values()].filter((item) => item.state !== "uploaded").length;
  const recording = ["recording", "paused", "saving"].includes(document.body.dataset.recorder);
  safeToClose.hidden = waiting > 0 || recording;
  if (!navigator.onLine && waiting > 0) {
    networkState.textContent =
      `No signal. ${waiting === 1 ? "The recording is" : `${waiting} recordings are`} saved on ` +
      "this phone and will upload when the signal returns. You can close this page: they upload " +
      "the next time you open it with signal.";
    networkState.hidden = false;
  } else if (waiting > 0) {
    networkState.textContent =
      "Saved on this phone. Uploading: if you close this page now, the upload carries on " +
      "from where it stopped the next time you open it.";
    networkState.hidden = false;
  } else {
    networkState.hidden = true;
  }
}

function uploaded(localId, statement) {
  const item = rows.get(localId);
  setState(localId, "uploaded", "uploaded");
  if (item && !item.row.querySelector("a.open-statement")) {
    item.row.append(
      el("a", { class: "open-statement button secondary", href: `/officer/statements/${encodeURIComponent(statement.id)}` },
        "Open the statement"),
    );
  }
}

// --- uploading -----------------------------------------------------------------------------

let pumping = false;
let pumpAgain = false;
let retryTimer = null;
let retryIndex = 0;

function scheduleRetry(delayMs) {
  if (retryTimer) clearTimeout(retryTimer);
  const wait = delayMs ?? RETRY_DELAYS_MS[Math.min(retryIndex, RETRY_DELAYS_MS.length - 1)];
  retryIndex += 1;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    pump();
  }, wait);
}

/** What to tell the officer about a failed upload, and whether trying again later may help. */
function failure(error) {
  if (error instanceof TypeError) {
    return { reason: "no connection; it will resume when the signal returns", retry: true };
  }
  if (error instanceof ApiError) {
    if (error.status === 401) {
      return { reason: "you are signed out; sign in again and it will resume", retry: false, signIn: true };
    }
    if (error.status === 429) {
      const wait = Number.parseInt(error.response?.headers.get("Retry-After") || "", 10);
      return { reason: `the service is busy; trying again shortly`, retry: true, waitMs: (wait || 30) * 1000 };
    }
    if (error.status >= 500 || error.status === 408) {
      return { reason: `the service had a problem (${error.message}); trying again shortly`, retry: true };
    }
    return { reason: error.message, retry: false };
  }
  return { reason: error && error.message ? error.message : String(error), retry: false };
}

/** Upload one recording; "done", "retry" (try again later) or "stop" (do not try again now). */
async function uploadOne(entry) {
  const localId = entry.localId;
  const known = rows.get(localId);
  // Until the service says where it got to, show what it last said (not a jump back to 0%).
  setState(localId, `uploading ${known && known.percent ? known.percent : 0}%`, "uploading");
  let checksumRetried = false;
  for (;;) {
    try {
      const statement = await uploadRecording(entry, {
        save: async (changes) => {
          Object.assign(entry, changes);
          await updateRecording(localId, changes);
        },
        onProgress: (done, size) => {
          const percent = size ? Math.floor((100 * done) / size) : 0;
          if (known) known.percent = percent;
          setState(localId, `uploading ${percent}%`, "uploading");
        },
      });
      if (statement.audio_sha256 !== entry.sha256) {
        // The service says it has something else: keep the phone's copy, it is the evidence.
        setState(localId, "upload failed: the service's checksum does not match the recording", "failed");
        heldBack.add(localId);
        return "stop";
      }
      await deleteRecording(localId); // only now: the service has every byte, checksum verified
      uploaded(localId, statement);
      return "done";
    } catch (error) {
      if (error instanceof ApiError && error.code === "checksum_mismatch" && !checksumRetried) {
        // Bytes were damaged on the way; the service discarded the upload: send it again once.
        checksumRetried = true;
        entry.uploadId = null;
        await updateRecording(localId, { uploadId: null });
        continue;
      }
      const { reason, retry, waitMs, signIn } = failure(error);
      setState(localId, `upload failed: ${reason}`, "failed");
      if (signIn) {
        const item = rows.get(localId);
        if (item && !item.row.querySelector("a.sign-in")) {
          const next = encodeURIComponent(location.pathname);
          item.row.append(el("a", { class: "sign-in button", href: `/login?next=${next}` }, "Sign in"));
        }
        return "stop";
      }
      if (!retry) {
        heldBack.add(localId);
        return "next";
      }
      scheduleRetry(waitMs);
      return "stop";
    }
  }
}

/** Upload, one at a time (one bar of signal is best used by one upload), every recording of
 * this officer still on the phone. */
async function pump() {
  if (pumping) {
    pumpAgain = true;
    return;
  }
  pumping = true;
  try {
    do {
      pumpAgain = false;
      const me = userId();
      const entries = (await allRecordings()).filter((entry) => entry.userId === me);
      for (const entry of entries) showRow(entry);
      for (const entry of entries) {
        if (heldBack.has(entry.localId)) continue;
        if (!navigator.onLine) {
          const item = rows.get(entry.localId);
          if (item && item.state !== "failed") setState(entry.localId, "saved on this phone", "saved");
          continue;
        }
        const outcome = await uploadOne(entry);
        if (outcome === "done") retryIndex = 0;
        if (outcome === "stop") break;
      }
    } while (pumpAgain);
  } catch (error) {
    recorderError.textContent = `The recordings on this phone could not be read: ${error.message}`;
  } finally {
    pumping = false;
    updateSafeToClose();
  }
}

async function showOthers() {
  const me = userId();
  const others = (await allRecordings()).filter((entry) => entry.userId !== me).length;
  if (others) {
    savedList.after(
      el("p", { class: "notice", id: "other-recordings" },
        `${others} recording${others === 1 ? "" : "s"} on this phone belong${others === 1 ? "s" : ""} ` +
        "to another account; they upload when that officer signs in here."),
    );
  }
}

window.addEventListener("online", () => {
  retryIndex = 0;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  pump();
});
window.addEventListener("offline", () => updateSafeToClose());

showControls("idle");
if (!window.indexedDB || !(window.crypto && crypto.subtle)) {
  recorderError.textContent =
    "This browser cannot keep recordings safely here (no storage or no secure connection). " +
    "Open the service over https in Chrome.";
  recordButton.disabled = true;
} else {
  pump();
  showOthers().catch(() => {});
}
