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

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var box = button.closest(button.getAttribute("data-dismiss"));
      if (box) box.remove();
    }
  });
})();
