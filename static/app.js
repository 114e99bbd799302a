// b2bshop: the little behaviour HTML and htmx do not give us. No inline scripts (CSP).
(function () {
  "use strict";

  // A <dialog open> swapped into #dialog becomes a real modal: backdrop, Escape, focus.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "dialog") return;
    var dialog = target.querySelector("dialog[open]");
    if (dialog && typeof dialog.showModal === "function") {
      dialog.removeAttribute("open");
      dialog.showModal();
      // Listen after any close event of the switch above has been delivered.
      setTimeout(function () {
        dialog.addEventListener("close", function () { target.innerHTML = ""; }, { once: true });
      }, 0);
    }
    // A toast steps aside after a while; its close button works at once.
    var toast = target.querySelector(".toast");
    if (toast) {
      setTimeout(function () { toast.remove(); }, 8000);
    }
  });

  // The error summary takes focus, on a page load and when a swap brings one: a screen
  // reader reads it out, and the links it holds are the next Tab stops.
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      return true;
    }
    return false;
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(); });

  // A summary link focuses its field and shows the field's label above it (GOV.UK).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var label = field.id && document.querySelector("label[for='" + field.id + "']");
    var legend = field.closest("fieldset") && field.closest("fieldset").querySelector("legend");
    (legend || (label && label.offsetParent ? label : null) || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var box = button.closest(button.getAttribute("data-dismiss"));
      if (box) box.remove();
    }
  });
})();
