// Outcomes pages: live camera with a framing guide, before/after slider and overlay, print.
// No inline script (strict CSP): everything hangs on data- attributes of the server-made HTML.
(function () {
  "use strict";

  function setupCamera() {
    const section = document.querySelector("[data-camera]");
    const form = document.querySelector("[data-photo-form]");
    if (!section || !form) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return; // the file input's camera remains
    section.hidden = false;
    const video = section.querySelector("[data-camera-video]");
    const guide = section.querySelector("[data-camera-guide]");
    const canvas = section.querySelector("[data-camera-canvas]");
    const start = section.querySelector("[data-camera-start]");
    const shoot = section.querySelector("[data-camera-shoot]");
    const strength = section.querySelector("[data-guide-opacity]");
    const status = section.querySelector("[data-camera-status]");
    const input = form.querySelector("[data-photo-input]");
    const viewSelect = form.querySelector("[data-photo-view]");
    const guides = {};
    document.querySelectorAll("[data-guides] li").forEach((li) => {
      guides[li.dataset.view] = { photo: li.dataset.url, outline: li.dataset.outline };
    });
    const modes = section.querySelectorAll("[data-guide-mode]");
    // The outline leaves the live image clear; the photo itself, faded, helps with light and colour.
    const defaultStrength = { outline: 90, photo: 35 };

    function mode() {
      const checked = section.querySelector("[data-guide-mode]:checked");
      return checked ? checked.value : "outline";
    }
    function showGuide() {
      const urls = viewSelect ? guides[viewSelect.value] : undefined;
      if (urls) {
        guide.src = mode() === "photo" ? urls.photo : urls.outline;
        guide.hidden = false;
        status.textContent = "Guide: the first photo of this view" + (mode() === "photo" ? "." : ", as an outline.");
      } else {
        guide.hidden = true;
        guide.removeAttribute("src");
        status.textContent = viewSelect && viewSelect.value ? "First photo of this view: it becomes the guide." : "";
      }
    }
    modes.forEach((radio) => radio.addEventListener("change", () => {
      strength.value = String(defaultStrength[mode()]);
      setStrength();
      showGuide();
    }));
    function setStrength() { guide.style.opacity = String(Number(strength.value) / 100); }
    if (viewSelect) viewSelect.addEventListener("change", showGuide);
    strength.addEventListener("input", setStrength);
    setStrength();
    showGuide();

    start.addEventListener("click", async () => {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment", width: { ideal: 1920 }, height: { ideal: 1440 } },
          audio: false,
        });
        video.srcObject = stream;
        await video.play();
        shoot.disabled = false;
        start.hidden = true;
      } catch (error) {
        status.textContent = "The camera could not be opened: use the Photo field instead.";
      }
    });

    shoot.addEventListener("click", () => {
      if (!video.videoWidth) return;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob((blob) => {
        if (!blob) return;
        const file = new File([blob], "camera.jpg", { type: "image/jpeg" });
        const transfer = new DataTransfer();
        transfer.items.add(file);
        input.files = transfer.files;
        canvas.hidden = false;
        status.textContent = "Photo taken: check it below, then save.";
      }, "image/jpeg", 0.92);
    });
  }

  function setupCompare() {
    const stage = document.querySelector("[data-compare]");
    const slider = document.querySelector("[data-compare-slider]");
    if (!stage || !slider) return;
    const after = stage.querySelector("[data-compare-after]");
    const modes = document.querySelectorAll("[data-compare-mode]");
    function mode() {
      const checked = document.querySelector("[data-compare-mode]:checked");
      return checked ? checked.value : "slider";
    }
    function update() {
      const value = Number(slider.value);
      if (mode() === "overlay") {
        stage.classList.add("overlay");
        after.style.clipPath = "none";
        after.style.opacity = String(value / 100);
      } else {
        stage.classList.remove("overlay");
        after.style.opacity = "1";
        after.style.clipPath = "inset(0 0 0 " + value + "%)";
      }
    }
    slider.addEventListener("input", update);
    modes.forEach((radio) => radio.addEventListener("change", update));
    update();
  }

  // Say at once, on the tablet, that a file is over the limit, instead of after sending it all.
  function setupSizeCheck() {
    document.querySelectorAll("input[type=file][data-max-bytes]").forEach((input) => {
      const max = Number(input.dataset.maxBytes);
      const note = document.createElement("p");
      note.className = "errorlist";
      note.setAttribute("role", "alert");
      note.hidden = true;
      input.insertAdjacentElement("afterend", note);
      input.addEventListener("change", () => {
        const file = input.files && input.files[0];
        if (file && max && file.size > max) {
          note.textContent = "The file is too large: at most " + Math.floor(max / 1048576) + " MB.";
          note.hidden = false;
          input.value = "";
        } else {
          note.hidden = true;
        }
      });
    });
  }

  function setupPrint() {
    document.querySelectorAll("[data-print]").forEach((button) => {
      button.hidden = false;
      button.addEventListener("click", () => window.print());
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupCamera();
    setupCompare();
    setupSizeCheck();
    setupPrint();
  });
})();
