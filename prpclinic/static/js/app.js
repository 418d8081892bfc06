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
