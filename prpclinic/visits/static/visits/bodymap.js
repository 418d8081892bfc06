// Body maps on the visit page: tapping a zone (or Enter / Space on it) selects it and loads that
// zone's entry form. Works with a finger, a mouse or the keyboard; nothing depends on hover.
// Kept in a static file so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";

  function select(zone) {
    const map = zone.closest("[data-bodymap]");
    if (!map) return;
    document.querySelectorAll("[data-bodymap] [data-zone][aria-pressed='true']").forEach((other) => {
      other.setAttribute("aria-pressed", "false");
    });
    zone.setAttribute("aria-pressed", "true");
    const status = document.querySelector("[data-bodymap-status]");
    if (status) status.textContent = zone.getAttribute("aria-label") + " selected";
    const url = zone.dataset.formUrl;
    const target = document.querySelector(map.dataset.target || "#zone-entry");
    if (!url || !target) {
      // Read-only visit (or no right to chart): go to the zone's row in the entries table.
      const row = document.getElementById("entry-" + zone.dataset.map + "-" + zone.dataset.zone);
      if (row) row.scrollIntoView({ block: "center" });
      return;
    }
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: target, swap: "innerHTML" }).then(() => {
        const first = target.querySelector("input:not([type=hidden]), select, textarea");
        if (first) first.focus({ preventScroll: true });
        target.scrollIntoView({ block: "nearest" });
      });
    } else {
      window.location.href = zone.dataset.pageUrl || url;
    }
  }

  document.addEventListener("click", (event) => {
    const zone = event.target.closest("[data-bodymap] [data-zone]");
    if (!zone) return;
    event.preventDefault();
    select(zone);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const zone = event.target.closest && event.target.closest("[data-bodymap] [data-zone]");
    if (!zone) return;
    event.preventDefault(); // Space would scroll the page
    select(zone);
  });
})();
