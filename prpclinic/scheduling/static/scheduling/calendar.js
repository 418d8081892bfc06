// Calendar: drag an appointment to another time, clinician, room or day (HTML5 drag and drop).
// The drop posts date, time and column to the move view (JSON answer); a refused move leaves
// the appointment where it was and shows the refusal, naming the conflict. On success the grid
// is fetched again (htmx partial) so every appointment shows where the server put it.
(() => {
  const SLOT_MINUTES = 5;
  let dragged = null;
  let grabOffset = 0;

  const grid = () => document.getElementById("cal-grid");
  const slotPx = (body) => {
    const value = parseFloat(getComputedStyle(body).getPropertyValue("--cal-slot"));
    return Number.isFinite(value) && value > 0 ? value : 7;
  };
  const pad = (n) => String(n).padStart(2, "0");
  const csrf = () => {
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  };

  function say(text, good) {
    const box = document.getElementById("cal-message");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("good", !!good);
    box.classList.toggle("bad", !good);
    box.hidden = !text;
  }

  async function refresh(message) {
    const response = await fetch(window.location.href, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!response.ok) { window.location.reload(); return; }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("#cal-grid");
    const current = grid();
    if (fresh && current) current.replaceWith(fresh);
    say(message, true);
  }

  async function move(appointment, body, clientY) {
    const root = grid();
    const top = clientY - body.getBoundingClientRect().top - grabOffset;
    const slot = Math.max(0, Math.round(top / slotPx(body)));
    const minutes = Number(root.dataset.firstMinute) + slot * SLOT_MINUTES;
    if (minutes >= 24 * 60) { say("That is past midnight: drop the appointment within the day.", false); return; }
    const data = new FormData();
    data.set("date", body.dataset.dropDay);
    data.set("time", `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`);
    if (body.dataset.dropClinician) data.set("clinician", body.dataset.dropClinician);
    if (body.dataset.dropRoom) data.set("room", body.dataset.dropRoom);
    const url = root.dataset.moveUrl.replace("/0/", `/${appointment.dataset.appointment}/`);
    appointment.classList.add("cal-moving");
    say("", true);
    let answer = { ok: false, message: "The move could not be saved; try again." };
    try {
      const response = await fetch(url, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
      });
      answer = await response.json();
    } catch (e) { /* network error: the message above */ }
    appointment.classList.remove("cal-moving");
    if (answer.ok) await refresh(answer.message);
    else say(answer.message, false);
  }

  document.addEventListener("dragstart", (event) => {
    const appointment = event.target.closest && event.target.closest(".cal-appt[draggable=true]");
    if (!appointment) return;
    dragged = appointment;
    grabOffset = event.clientY - appointment.getBoundingClientRect().top;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", appointment.dataset.appointment);
    appointment.classList.add("cal-dragging");
  });
  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("cal-dragging");
    document.querySelectorAll(".cal-drop-target").forEach((el) => el.classList.remove("cal-drop-target"));
    dragged = null;
  });
  document.addEventListener("dragover", (event) => {
    const body = dragged && event.target.closest && event.target.closest("[data-drop-day]");
    if (!body) return;
    event.preventDefault();  // allows the drop
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".cal-drop-target").forEach((el) => { if (el !== body) el.classList.remove("cal-drop-target"); });
    body.classList.add("cal-drop-target");
  });
  document.addEventListener("drop", (event) => {
    const body = dragged && event.target.closest && event.target.closest("[data-drop-day]");
    if (!body) return;
    event.preventDefault();
    const appointment = dragged;
    body.classList.remove("cal-drop-target");
    move(appointment, body, event.clientY);
  });
})();
