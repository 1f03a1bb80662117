// My statements: newest first, each a link to its review page with its status.
import { api, el, formatDate, formatDateTime, signInAgain, statusText, TEMPLATE_NAMES } from "./api.js";

const list = document.getElementById("statement-list");
const message = document.getElementById("list-message");
const error = document.getElementById("list-error");

const STATUS_HINTS = {
  received: "waiting to be drafted",
  transcribing: "being drafted",
  draft: "ready to review",
  confirmed: "confirmed: ready to submit",
  submitted: "submitted",
  failed: "drafting failed",
  erased: "erased",
};

function row(item) {
  const href = item.status === "confirmed"
    ? `/officer/statements/${encodeURIComponent(item.id)}/witness`
    : `/officer/statements/${encodeURIComponent(item.id)}`;
  return el(
    "li",
    { class: "statement-row", dataset: { id: item.id, status: item.status } },
    el(
      "a",
      { href },
      el("span", { class: "row-title" }, TEMPLATE_NAMES[item.template] || item.template),
      el("span", { class: `status ${item.status}`, title: STATUS_HINTS[item.status] || "" },
        statusText(item.status)),
      el("span", { class: "row-meta" },
        `Taken ${formatDate(item.statement_date)} · recorded ${formatDateTime(item.created_at)}` +
        (item.current_version ? ` · version ${item.current_version}` : "")),
    ),
  );
}

async function load() {
  try {
    const items = [];
    // A busy officer's list stays one request in almost every case; more pages if needed.
    for (let page = 1; page <= 10; page += 1) {
      const body = await api(`/api/v1/statements?page=${page}&page_size=200`);
      items.push(...body.items);
      if (items.length >= body.total || body.items.length === 0) break;
    }
    items.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    list.replaceChildren(...items.map(row));
    message.textContent = items.length
      ? `${items.length} statement${items.length === 1 ? "" : "s"}.`
      : "No statements yet. Record one with the button above.";
  } catch (err) {
    if (err.status === 401) {
      signInAgain();
      return;
    }
    message.textContent = "";
    error.textContent = err instanceof TypeError
      ? "No signal: your statements cannot be listed now. Recording still works."
      : `Could not list your statements: ${err.message}`;
  }
}

load();
