// Shared Counter's service worker: the app shell works without a network.
//
// - Navigations go to the network first, so a new build is picked up by the next page load;
//   when the network fails, the cached shell answers (every page of the app is the same
//   index.html, so one cached copy serves `/` and every `/c/{name}`).
// - The cached shell is the plain one, `/index.html`, never a counter's page: the server fills
//   a counter's page with its value of that moment, and that number, shown offline from a
//   cache, would pass for the current one (or be another counter's). Offline, the app shows
//   what the device kept, marked as not live. So after each navigation the worker asks for
//   `/index.html` again (a revalidation: usually a 304 without a body) rather than keeping the
//   page it just passed on.
// - Trunk's hashed files (`frontend-<16 hex>_bg.wasm`, …) never change under their name: they
//   are served from the cache first. The worker learns their names by reading the shell's
//   HTML — at install, and after every navigation — so they are cached before the first
//   offline load, and files of older builds are dropped.
// - `/api/`, `/ws/` and everything else are left to the network, never cached.
// - Bump VERSION when this file's logic changes: the browser installs the new worker, which
//   takes over at once and removes the caches of the old one.

const VERSION = "v2";
const SHELL_CACHE = `shell-${VERSION}`;
const ASSET_CACHE = `assets-${VERSION}`;
const SHELL_URL = "/index.html";
const SHELL_EXTRAS = [
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/icon-maskable-192.png",
  "/icons/icon-maskable-512.png",
  "/icons/apple-touch-icon.png",
  "/icons/favicon-48.png",
];
// Also wasm-bindgen's JS snippets, which the app's JS imports at start-up: they sit in a
// folder named after a hash of the crate's snippets (/snippets/frontend-aebe9231459ec4d1/
// inline0.js). The owner module (/owner.js, /owner_bg.wasm) is left out: it is loaded only
// for owners, online.
const HASHED_PATH =
  /^\/(?:snippets\/[\w.-]+-[0-9a-f]{8,16}\/[\w.-]+\.js|[\w.-]+-[0-9a-f]{8,16}(?:_bg)?\.[a-z0-9]+)$/;
const HASHED_IN_HTML =
  /\/(?:snippets\/[\w.-]+-[0-9a-f]{8,16}\/[\w.-]+\.js|[\w.-]+-[0-9a-f]{8,16}(?:_bg)?\.(?:js|wasm|css))/g;

/** The hashed files a shell's HTML loads. */
function hashedAssetsOf(html) {
  return [...new Set(html.match(HASHED_IN_HTML) || [])];
}

/** Caches the hashed files `html` names that are not cached yet, and drops the others. */
async function syncAssets(html) {
  const wanted = hashedAssetsOf(html);
  if (wanted.length === 0) return;
  const cache = await caches.open(ASSET_CACHE);
  for (const path of wanted) {
    if (!(await cache.match(path))) {
      const response = await fetch(path);
      if (response.ok) await cache.put(path, response);
    }
  }
  for (const request of await cache.keys()) {
    if (!wanted.includes(new URL(request.url).pathname)) await cache.delete(request);
  }
}

/** Fetches the plain shell and keeps it, with the files it loads. */
async function refreshShell() {
  const response = await fetch(SHELL_URL, { cache: "no-cache" });
  if (!response.ok) throw new Error(`the shell answered ${response.status}`);
  const cache = await caches.open(SHELL_CACHE);
  await cache.put(SHELL_URL, response.clone());
  await syncAssets(await response.text());
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      await refreshShell();
      await (await caches.open(SHELL_CACHE)).addAll(SHELL_EXTRAS);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const current = [SHELL_CACHE, ASSET_CACHE];
      for (const name of await caches.keys()) {
        if (!current.includes(name)) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function isShellPage(response) {
  const type = response.headers.get("content-type") || "";
  return response.ok && type.startsWith("text/html");
}

async function navigate(event) {
  try {
    const response = await fetch(event.request);
    if (isShellPage(response)) event.waitUntil(refreshShell().catch(() => {}));
    return response;
  } catch (error) {
    const cached = await caches.match(SHELL_URL, { cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(ASSET_CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(new URL(request.url).pathname, response.clone());
  return response;
}

async function networkFirst(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await caches.match(new URL(request.url).pathname, { cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/ws/")) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
  } else if (HASHED_PATH.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (SHELL_EXTRAS.includes(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
