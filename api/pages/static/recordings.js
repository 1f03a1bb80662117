// The recordings kept on the phone: IndexedDB database "voice-statement", object store
// "recordings", one entry per recording, keyed by its local id. A recording is written here
// the moment it stops, before any upload, and removed only once the service holds all of it
// with the same SHA-256.
//
// Entry: { localId, userId, template, statementDate, createdAt, durationS, mimeType, filename,
//          size, sha256, blob, uploadId (null until the service gives one), statementId }

const DB_NAME = "voice-statement";
const STORE = "recordings";
const VERSION = 1;

let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The database, opened once per page (created on first use). */
export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(STORE)) {
          db.createObjectStore(STORE, { keyPath: "localId" });
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("the phone's storage is in use by another tab"));
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

async function withStore(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const store = tx.objectStore(STORE);
    let result;
    Promise.resolve(work(store)).then((value) => {
      result = value;
    }, reject);
    // Resolved only when the transaction has committed: written means written to disk.
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("the phone's storage refused the write"));
  });
}

/** Save (or replace) an entry; resolves once the write has committed. */
export function putRecording(entry) {
  return withStore("readwrite", (store) => request(store.put(entry)));
}

export function getRecording(localId) {
  return withStore("readonly", (store) => request(store.get(localId)));
}

/** Every entry, oldest first. */
export async function allRecordings() {
  const entries = await withStore("readonly", (store) => request(store.getAll()));
  return entries.sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
}

/** Change some properties of an entry (no-op when it is gone); returns the entry. */
export async function updateRecording(localId, changes) {
  return withStore("readwrite", async (store) => {
    const entry = await request(store.get(localId));
    if (!entry) return null;
    Object.assign(entry, changes);
    await request(store.put(entry));
    return entry;
  });
}

export function deleteRecording(localId) {
  return withStore("readwrite", (store) => request(store.delete(localId)));
}

/** Ask the browser not to evict this site's storage under pressure (best effort). */
export async function askToKeepStorage() {
  try {
    if (navigator.storage && navigator.storage.persist) await navigator.storage.persist();
  } catch (_) {
    // not granted: the recording is still saved; the browser may only evict it when very full
  }
}

/** The SHA-256 of a Blob, as lowercase hex (the form the service reports). */
export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
