// b2bshop: the little behaviour HTML and htmx do not give us. No inline scripts (CSP).
//
// Focus and announcements after an HTMX swap (issue 15): a swap that replaces the focused
// element must not drop focus to <body>. After each swap, focus goes, in this order, to
//   1. the element that had it, found again in the new content (same id, or the same link
//      or button): a filter select, the search box, a cart amount;
//   2. the new content's [data-focus-after-swap]: the list's count after Apply or a page
//      turn, the link of a Pay invoice result;
//   3. the swapped region itself (tabindex -1).
// The text of the new content's [data-announce] goes to #announcer, a live region outside
// every swapped area (base.html), so counts and results are read out.
// A dialog swapped into #dialog is a modal; Escape, Cancel and Send close it and focus goes
// back to what opened it.
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) return;
    // A new text node each time: the same words twice are read twice.
    region.textContent = "";
    setTimeout(function () { region.textContent = text.replace(/\s+/g, " ").trim(); }, 50);
  }

  function focusElement(el) {
    if (!el) return false;
    if (!el.matches(FOCUSABLE) && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: false });
    return document.activeElement === el;
  }

  // What identifies a focused control across a swap that re-renders it.
  function keyOf(el) {
    if (!el || el === document.body) return null;
    // A filter form's Apply and the pager send focus to the results (their count), not
    // back to themselves.
    if (el.matches(".filters button[type=submit], .pager a")) return null;
    if (el.id) return { id: el.id };
    if (el.matches("a[href]")) return { selector: "a[href='" + CSS.escape(el.getAttribute("href")) + "']", text: el.textContent.trim() };
    if (el.matches("button")) {
      var form = el.closest("form");
      return { selector: "button", text: el.textContent.trim(), action: form ? form.getAttribute("action") : null };
    }
    return null;
  }

  function findByKey(key, root) {
    if (!key) return null;
    if (key.id) return document.getElementById(key.id);
    var scope = root && root.isConnected ? root : document;
    var candidates = scope.querySelectorAll(key.selector);
    for (var i = 0; i < candidates.length; i++) {
      var c = candidates[i];
      if (c.textContent.trim() !== key.text) continue;
      if (key.action !== undefined) {
        var form = c.closest("form");
        if ((form ? form.getAttribute("action") : null) !== key.action) continue;
      }
      return c;
    }
    return null;
  }

  var pending = null;   // {key, target} of the swap under way
  var opener = null;    // what opened the dialog

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog" && !target.querySelector("dialog")) {
      opener = keyOf(event.detail.elt) || keyOf(document.activeElement);
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    pending = { key: keyOf(document.activeElement), target: event.detail.target };
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target) return;
    // An outerHTML swap replaced the target: find the new one by its id.
    if (!target.isConnected && target.id) target = document.getElementById(target.id) || target;

    if (target.id === "dialog") {
      settleDialog(target);
      pending = null;
      return;
    }

    var announced = target.querySelector("[data-announce]") || (target.matches("[data-announce]") ? target : null);
    if (announced) announce(announced.textContent);

    var lost = !document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected;
    if (pending && lost) {
      // A refused value: its field, to correct it (the summary's alert reads the error).
      (focusElement(target.querySelector("[data-error-summary] ~ * [aria-invalid='true']"))) ||
        (pending.key && focusElement(findByKey(pending.key, target))) ||
        focusElement(target.querySelector("[data-focus-after-swap]")) ||
        focusElement(target);
    }
    pending = null;
  });

  function returnFocusToOpener() {
    var el = findByKey(opener);
    opener = null;
    if (el) el.focus();
  }

  // A <dialog open> swapped into #dialog becomes a real modal: backdrop, Escape, focus
  // inside. When the dialog goes (Escape, Cancel, Send), focus goes back to its opener.
  function settleDialog(target) {
    var dialog = target.querySelector("dialog[open]");
    if (dialog && typeof dialog.showModal === "function") {
      dialog.removeAttribute("open");
      dialog.showModal();
      var first = dialog.querySelector("[autofocus]") || dialog.querySelector(FOCUSABLE);
      if (first) first.focus();
      // Escape (or the form's method=dialog): empty the region and go back to the opener.
      dialog.addEventListener("close", function () {
        if (dialog.isConnected) target.innerHTML = "";
        returnFocusToOpener();
      }, { once: true });
      return;
    }
    // Cancel (nothing swapped in) or Send (a toast swapped in): the dialog is gone.
    var toast = target.querySelector(".toast");
    if (toast) announce(toast.querySelector("[data-announce]") ? toast.querySelector("[data-announce]").textContent : toast.textContent);
    returnFocusToOpener();
  }

  // The error summary takes focus on a page load: a screen reader reads it out, and the
  // links it holds are the next Tab stops.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  });

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
    focusElement(field);
  });

  // A toast stays until it is closed (its link must not vanish before it is used); closing
  // it gives focus back to the page's main heading rather than to <body>.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (!button) return;
    var box = button.closest(button.getAttribute("data-dismiss"));
    if (!box) return;
    box.remove();
    if (opener === null) focusElement(document.querySelector("main h1"));
  });

  // A confirmation before a form marked data-confirm is sent (removing a user).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
})();
