// The case builder's list (/cases). The page works without this script (the filters are a
// plain GET form, the rows plain links); it only adds comfort:
// - times the server wrote in UTC are shown in the reader's own time zone;
// - a click anywhere on a row opens its statement (the link in the row stays the keyboard's
//   and the screen reader's way in).
import { formatDateTime } from "./api.js";

for (const node of document.querySelectorAll("time.local-time[datetime]")) {
  const shown = formatDateTime(node.getAttribute("datetime"));
  if (shown) node.textContent = shown;
}

const list = document.getElementById("case-list");
if (list) {
  list.addEventListener("click", (event) => {
    if (event.target.closest("a, button, input, select, textarea")) return;
    if (window.getSelection && String(window.getSelection()).trim()) return; // selecting text
    const row = event.target.closest(".case-row");
    const link = row && row.querySelector("a.case-link");
    if (link) link.click();
  });
}
