// The resumable upload of one recording: POST /api/v1/uploads declares it (size, SHA-256),
// then PUT /api/v1/uploads/{id}?offset=N sends it in 256 KiB chunks. After a failure or a
// reload the upload asks the service where it got to (GET) and goes on from there; a 409 names
// the offset the service holds (Upload-Offset) and the upload continues from that one.
import { api, ApiError } from "./api.js";

/** Bytes per PUT: small enough to get through on one bar of signal, and to lose little when a
 * chunk is cut off; the service accepts up to 1 MiB. */
export const CHUNK_BYTES = 256 * 1024;
/** PUTs in a row that leave the offset where it was before the upload gives up (a service
 * that accepts a chunk but does not move on would otherwise loop for ever). */
const STALLED_LIMIT = 3;

function uploadUrl(id, offset) {
  const base = `/api/v1/uploads/${encodeURIComponent(id)}`;
  return offset === undefined ? base : `${base}?offset=${offset}`;
}

/** The media type without its parameters ("audio/webm;codecs=opus" → "audio/webm"). */
export function baseType(type) {
  return String(type || "application/octet-stream").split(";")[0].trim();
}

async function declare(entry) {
  return api("/api/v1/uploads", {
    method: "POST",
    json: {
      template: entry.template,
      statement_date: entry.statementDate,
      size: entry.size,
      sha256: entry.sha256,
      filename: entry.filename,
      content_type: baseType(entry.mimeType),
    },
  });
}

/**
 * Upload ``entry`` (a stored recording), resuming its upload when it has one.
 * save(changes): persists changes to the entry (the upload id, so a reload resumes it).
 * onProgress(bytesConfirmed, size): after every answer from the service.
 * Resolves with the created statement ({id, status, audio_sha256, ...}); rejects with an
 * ApiError (the service refused) or a TypeError (no connection).
 */
export async function uploadRecording(entry, { save, onProgress }) {
  let state = null;
  if (entry.uploadId) {
    try {
      state = await api(uploadUrl(entry.uploadId));
    } catch (err) {
      // Expired (7 days) or discarded (checksum mismatch): start again from the phone's copy.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
  if (!state) {
    state = await declare(entry);
    await save({ uploadId: state.id });
  }
  const id = state.id;
  let offset = state.offset;
  let stalled = 0;
  onProgress(offset, entry.size);
  while (!state.complete) {
    const end = Math.min(offset + CHUNK_BYTES, entry.size);
    const body = await entry.blob.slice(offset, end).arrayBuffer();
    const before = offset;
    try {
      state = await api(uploadUrl(id, offset), {
        method: "PUT",
        body,
        headers: { "Content-Type": "application/octet-stream" },
      });
      offset = state.offset;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.code === "offset_mismatch") {
        const held = Number.parseInt(err.response.headers.get("Upload-Offset") || "", 10);
        if (Number.isFinite(held)) {
          offset = held;
        } else {
          state = await api(uploadUrl(id));
          offset = state.offset;
        }
      } else {
        throw err;
      }
    }
    onProgress(offset, entry.size);
    stalled = offset === before && !state.complete ? stalled + 1 : 0;
    if (stalled >= STALLED_LIMIT) {
      throw new ApiError(500, "upload_stalled", `the service stopped taking the upload at byte ${offset}`);
    }
  }
  let statement = state.statement;
  if (!statement) {
    // Completed, but the answer did not say with what: ask once more.
    statement = (await api(uploadUrl(id))).statement;
  }
  if (!statement) {
    throw new ApiError(500, "no_statement", "the service has the recording but made no statement of it");
  }
  return statement;
}
