// The sign-in form: posts the name and password (or API token) to the API, which sets the
// session cookie; then goes to the page that asked for sign-in (a path on this site) or "/".
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function nextPath() {
  const next = form.dataset.next || "/";
  // The server already checked it; check again so that no edit of the page sends us off-site.
  return next.startsWith("/") && !next.startsWith("//") && !next.includes("\\") ? next : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const name = form.elements.name.value.trim();
  const secret = form.elements.secret.value;
  if (!name || !secret) {
    error.textContent = "Enter your name and your password or access token.";
    (name ? form.elements.secret : form.elements.name).focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, secret }),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.ok) {
      location.assign(nextPath());
      return;
    }
    let message = `Sign-in failed (${response.status}).`;
    try {
      const body = await response.json();
      if (response.status === 401) message = "The name, or its password or token, is wrong.";
      else if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) {
      // not JSON: keep the status line
    }
    error.textContent = message;
    form.elements.secret.select();
  } catch (_) {
    error.textContent = "No connection to the service. Check the signal and try again.";
  } finally {
    button.disabled = false;
  }
});
