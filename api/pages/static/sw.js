// The officer's offline shell. Served at /sw.js (scope "/") with the release's asset version
// written in place of __ASSET_VERSION__, so that each release uses a cache of its own.
//
// What it keeps: the HTML of /officer and /officer/record, the stylesheet and the scripts they
// load; so the recording page opens with no signal. What it never keeps: anything under /api/
// (statement data and recordings stay out of the cache), and any other page.
//
// Pages: network first (a fresh page carries a fresh CSRF token and the current list), the kept
// copy when there is no signal or the network is too slow to answer. Scripts and the stylesheet:
// the kept copy first (their URLs carry the release's version, so a kept copy is never stale).

const VERSION = "__ASSET_VERSION__";
const CACHE = `vs-shell-${VERSION}`;
const PAGES = ["/officer", "/officer/record"];
const NAMES = [
  "app.css",
  "icon.svg",
  "api.js",
  "header.js",
  "sw-register.js",
  "officer-list.js",
  "record.js",
  "recordings.js",
  "uploader.js",
];
// Kept under the release's versioned URL. The pages load these URLs; the scripts' own imports
// ("./api.js") carry no version, and are answered from the same entries.
const ASSETS = NAMES.map((name) => `/static/${name}?v=${VERSION}`);
/** How long a page request may take before the kept copy is shown instead (one bar of signal
 * can leave a request hanging for a minute; the officer should not wait that long). */
const PAGE_TIMEOUT_MS = 4000;

function keepable(response) {
  // A redirect (to the sign-in page) or an error is not the page: never keep it in its place.
  return response && response.ok && !response.redirected && response.type === "basic";
}

async function keepPage(cache, path) {
  try {
    const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (keepable(response)) await cache.put(path, response);
  } catch (_) {
    // no signal while installing: the page is kept the next time it is opened online
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all([
        ...ASSETS.map(async (url) => {
          try {
            const response = await fetch(url, { cache: "no-store" });
            if (keepable(response)) await cache.put(url, response);
          } catch (_) {
            // kept on first use instead
          }
        }),
        ...PAGES.map((path) => keepPage(cache, path)),
      ]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith("vs-shell-") && name !== CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function page(request, path) {
  const cache = await caches.open(CACHE);
  const network = fetch(request);
  // Whatever the network brings later still refreshes the kept copy.
  const refreshed = network.then(async (response) => {
    if (keepable(response)) await cache.put(path, response.clone());
    return response;
  });
  try {
    return await withTimeout(refreshed, PAGE_TIMEOUT_MS);
  } catch (_) {
    const kept = await cache.match(path);
    if (kept) return kept;
    return refreshed; // nothing kept: wait for the network after all (or its error)
  }
}

async function asset(url) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(url);
  if (kept) return kept;
  const response = await fetch(url, { cache: "no-store" });
  if (keepable(response)) await cache.put(url, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // never cached: statement data stays out
  if (request.mode === "navigate" && PAGES.includes(url.pathname)) {
    event.respondWith(page(request, url.pathname));
    return;
  }
  const name = url.pathname.startsWith("/static/") ? url.pathname.slice("/static/".length) : "";
  if (NAMES.includes(name)) {
    event.respondWith(asset(`/static/${name}?v=${VERSION}`));
  }
});
