// Small behaviours that need no framework. Kept in a static file so the CSP can forbid inline script.
document.addEventListener("click", (event) => {
  const pick = event.target.closest("[data-merge-pick]");
  if (pick) {
    event.preventDefault();
    const form = document.getElementById("merge-form");
    form.querySelector("input[name=survivor]").value = pick.dataset.mergePick;
    document.getElementById("merge-choice").textContent = pick.dataset.mergeLabel;
    form.hidden = false;
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Countdowns: <span data-countdown="ISO time" data-done-text="done" data-warn-minutes="30">.
// They tick every second; the board swaps its rows by htmx, so we look the spans up each tick.
function pad(n) { return String(n).padStart(2, "0"); }
function tickCountdowns() {
  const now = Date.now();
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const until = Date.parse(el.dataset.countdown);
    if (Number.isNaN(until)) return;
    const left = Math.round((until - now) / 1000);
    const warn = Number(el.dataset.warnMinutes || 0) * 60;
    el.classList.toggle("countdown-done", left <= 0);
    el.classList.toggle("countdown-warn", left > 0 && warn > 0 && left <= warn);
    if (left <= 0) {
      el.textContent = el.dataset.doneText || "done";
    } else {
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s) + " left";
    }
  });
}
setInterval(tickCountdowns, 1000);
document.addEventListener("DOMContentLoaded", tickCountdowns);
document.addEventListener("htmx:afterSwap", tickCountdowns);

// Bedside scan field: a keyboard-wedge scanner types the code and Enter. The code goes to the
// slot its prefix names (PT- wristband, PRP- syringe); anything else is refused, never guessed.
document.addEventListener("DOMContentLoaded", () => {
  const input = document.querySelector("[data-scan-input]");
  if (!input) return;
  const form = input.form;
  const message = form.querySelector("[data-scan-message]");
  const slot = (name) => form.querySelector(`[data-slot=${name}]`);
  const say = (text, bad) => { message.textContent = text; message.classList.toggle("bad", !!bad); };
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const code = input.value.trim().toUpperCase();
    input.value = "";
    if (!code) return;
    if (code.startsWith("PT-")) { slot("patient").value = code; say("Wristband read: " + code); }
    else if (/^PRP-[A-Z0-9]+-T\d+$/.test(code)) { say("That is a tube label. Scan the label on the syringe.", true); return; }
    else if (code.startsWith("PRP-")) { slot("product").value = code; say("Syringe read: " + code); }
    else { say("Not a wristband or syringe barcode: " + code, true); return; }
    if (slot("patient").value && slot("product").value) form.requestSubmit();
  });
  form.querySelector("[data-scan-clear]").addEventListener("click", () => {
    slot("patient").value = ""; slot("product").value = ""; say(""); input.focus();
  });
  // Focus stays in the scan field, so a scan never lands anywhere else.
  document.addEventListener("click", (event) => { if (!event.target.closest("button, a, select")) input.focus(); });
  input.focus();
});

// Spin programs: g <-> RPM as the user types, from the rotor radius (RCF = 1.118e-5 r RPM^2).
document.addEventListener("input", (event) => {
  const form = event.target.closest("[data-rotor-radius]");
  if (!form) return;
  const radius = parseFloat(form.dataset.rotorRadius);
  const maxRpm = parseFloat(form.dataset.maxRpm);
  const match = /^spin([12])_(rcf|rpm)$/.exec(event.target.name);
  if (!match || !radius) return;
  const [, n, unit] = match;
  const value = parseFloat(event.target.value);
  const other = form.querySelector(`[name=spin${n}_${unit === "rcf" ? "rpm" : "rcf"}]`);
  if (!other) return;
  if (Number.isNaN(value)) { other.value = ""; return; }
  const rpm = unit === "rpm" ? value : Math.sqrt(value / (1.118e-5 * radius));
  if (unit === "rcf") other.value = Math.round(rpm);
  else other.value = Math.round(1.118e-5 * radius * value * value);
  event.target.setCustomValidity(rpm > maxRpm ? `Above this device's maximum of ${maxRpm} RPM` : "");
  event.target.reportValidity();
});
