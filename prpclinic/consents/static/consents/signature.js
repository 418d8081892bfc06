// Signature pads for the consent tablet page. Each <canvas data-signature-for="<hidden input id>">
// records finger, stylus or mouse strokes (pointer events) and writes a PNG data URL into its hidden
// input after every stroke; "Clear" empties both. Kept in a static file: the CSP forbids inline script.
(function () {
  "use strict";

  function setup(canvas) {
    const input = document.getElementById(canvas.dataset.signatureFor);
    if (!input) return;
    const ctx = canvas.getContext("2d");
    let drawing = false;
    let inked = false;
    let last = null;

    function style() {
      ctx.lineWidth = 3;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111";
    }

    function point(event) {
      const box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * canvas.width) / box.width,
        y: ((event.clientY - box.top) * canvas.height) / box.height,
      };
    }

    function save() {
      input.value = inked ? canvas.toDataURL("image/png") : "";
    }

    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      style();
      ctx.beginPath();
      ctx.arc(last.x, last.y, 1.5, 0, Math.PI * 2);
      ctx.fillStyle = "#111";
      ctx.fill();
      inked = true;
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      event.preventDefault();
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      style();
      for (const e of events.length ? events : [event]) {
        const next = point(e);
        ctx.beginPath();
        ctx.moveTo(last.x, last.y);
        ctx.lineTo(next.x, next.y);
        ctx.stroke();
        last = next;
      }
    });
    function end() {
      if (!drawing) return;
      drawing = false;
      save();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);

    const clear = document.querySelector(`[data-signature-clear="${canvas.id}"]`);
    if (clear) {
      clear.addEventListener("click", () => {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        inked = false;
        save();
      });
    }

    // A refused form comes back with the signature already given: draw it again so it can be kept.
    if (input.value.startsWith("data:image/png;base64,")) {
      const image = new Image();
      image.addEventListener("load", () => {
        ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
        inked = true;
      });
      image.src = input.value;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("canvas[data-signature-for]").forEach(setup);
  });
})();
