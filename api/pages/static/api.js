// Shared helpers for every page: calling the JSON API with the session cookie and the CSRF
// token, reading its errors, and building DOM nodes without innerHTML (no markup injection:
// statement text is witness data, shown only as text).

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The session's CSRF token, from <meta name="csrf-token"> (empty when signed out). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** The signed-in user's id, from <meta name="user-id">. */
export function userId() {
  const meta = document.querySelector('meta[name="user-id"]');
  return meta ? meta.content : "";
}

/** An error answered by the API: HTTP status, its machine code and its sentence. */
export class ApiError extends Error {
  constructor(status, code, message, response = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.response = response;
  }
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = `the service answered ${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) {
    // not JSON (a proxy's error page): keep the status line
  }
  return new ApiError(response.status, code, message, response);
}

/**
 * A page served from the service worker's cache (opened with no signal) may hold the CSRF
 * token of an earlier sign-in. Fetch this page afresh and take its token.
 */
export async function refreshCsrf() {
  const response = await fetch(location.pathname, {
    credentials: "same-origin",
    cache: "no-store",
    headers: { "X-Refresh-Csrf": "1" },
  });
  if (response.redirected && new URL(response.url).pathname === "/login") {
    throw new ApiError(401, "session_expired", "the sign-in session has ended: sign in again");
  }
  const html = await response.text();
  const page = new DOMParser().parseFromString(html, "text/html");
  const fresh = page.querySelector('meta[name="csrf-token"]');
  if (!fresh || !fresh.content) {
    throw new ApiError(401, "session_expired", "the sign-in session has ended: sign in again");
  }
  document.querySelector('meta[name="csrf-token"]').content = fresh.content;
  return fresh.content;
}

/**
 * Call the API. options: method, json (a body sent as JSON), body (sent as it is), headers,
 * signal, raw (return the Response itself, for blobs and streams).
 * Throws ApiError for an error status, and TypeError when the network fails.
 */
export async function api(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const send = async () => {
    const headers = new Headers(options.headers || {});
    let body = options.body;
    if (options.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(options.json);
    }
    if (CHANGES.has(method)) headers.set("X-CSRF-Token", csrfToken());
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    return fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      cache: "no-store",
      signal: options.signal,
    });
  };
  let response = await send();
  if (response.status === 403 && CHANGES.has(method)) {
    const error = await errorFrom(response.clone());
    if (error.code === "csrf_failed") {
      await refreshCsrf();
      response = await send();
    }
  }
  if (!response.ok) throw await errorFrom(response);
  if (options.raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** Send the browser to the login page, coming back here afterwards. */
export function signInAgain() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/**
 * Show what went wrong in ``box``: a lapsed sign-in goes to the login page; no connection says
 * so plainly; anything else shows the service's own message.
 */
export function showError(box, error) {
  if (error instanceof ApiError && error.status === 401) {
    signInAgain();
    return;
  }
  box.textContent = error instanceof TypeError
    ? "No connection to the service. Check the signal and try again."
    : error.message;
}

/**
 * Build an element: el("a", {href: "/x", class: "row"}, "text", child).
 * Attributes: class, dataset (an object), on<event> (a function), hidden, and any other
 * attribute by name; children are nodes or strings (set as text, never parsed as HTML).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A date or date-time as people here write it: 3 Mar 2025, 14:05. */
export function formatDateTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(String(value).length === 10 ? `${value}T12:00:00` : value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

/** Seconds as m:ss (or h:mm:ss). */
export function formatClock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Human names of the templates and statuses, for lists and headings. */
export const TEMPLATE_NAMES = { mg11: "Witness statement (MG11)", missing_person: "Missing person" };

export function statusText(status) {
  return String(status || "").replace(/_/g, " ");
}

/** Put a message in an element with role=alert/status (empty string clears it). */
export function say(element, message) {
  if (element) element.textContent = message || "";
}
