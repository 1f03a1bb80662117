// Every page: the sign-out button. Signing out ends the session and drops the service worker's
// copy of the pages (they show the user's name). Recordings still waiting on the phone are
// kept: they are evidence, and upload when their officer signs in again.
import { api } from "./api.js";

const button = document.getElementById("sign-out");
if (button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } catch (_) {
      // already signed out, or no signal: the cookie is cleared next time; go on regardless
    }
    if ("caches" in window) {
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith("vs-shell")).map((n) => caches.delete(n)));
    }
    location.assign("/login");
  });
}
