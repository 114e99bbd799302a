// What axe-core leaves to people, measured on the rendered page (tests/e2e/test_accessibility.py):
// - WCAG 2.5.8 as this store applies it: every control (button, field, checkbox, button-like
//   link, nav and pager link) is at least 24 x 24 CSS px; a checkbox or radio may count its
//   label. axe accepts a smaller target with enough space around it; we do not.
// - WCAG 2.4.4 / 2.4.9: repeated links and buttons have names that say which row they act on:
//   two links of one name go to one place, two buttons of one name send the same form.
// - WCAG 1.4.11: a field's border, and the border of a button that has no fill of its own,
//   at least 3:1 against what is around it; the focus ring at least 3:1 against it too.
// Returns a list of problems, each "what — selector — figures".
() => {
  const problems = [];
  const MIN = 24 - 0.5;

  const parse = (color) => {
    const m = color.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const lum = (c) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // The colour behind an element: its ancestors' backgrounds, blended down to white.
  const behind = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    return layers.reverse().reduce((acc, c) => over(c, acc), { r: 255, g: 255, b: 255, a: 1 });
  };
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.name) s += `[name=${el.name}]`;
    if (typeof el.className === "string" && el.className.trim())
      s += "." + el.className.trim().split(/\s+/).join(".");
    const text = (el.tagName === "SELECT" ? "" : el.innerText || el.value || el.getAttribute("aria-label") || "").trim().split("\n")[0];
    return text ? `${s} "${text.slice(0, 30)}"` : s;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const s = getComputedStyle(el);
    if (s.visibility === "hidden" || s.display === "none") return false;
    // Visually hidden (the skip link off screen, .visually-hidden): not a visible target.
    if (r.right <= 0 || r.bottom <= 0 || (r.width <= 1 && r.height <= 1)) return false;
    return true;
  };
  const controls = [
    ...document.querySelectorAll(
      "button, input:not([type=hidden]), select, textarea, a.button, .main-nav a, .subnav a, .pager a, .lang-switch button"
    ),
  ].filter(visible);

  // Target size.
  for (const el of controls) {
    const r = el.getBoundingClientRect();
    if (r.width >= MIN && r.height >= MIN) continue;
    if (el.type === "checkbox" || el.type === "radio") {
      const label = el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`));
      if (label) {
        const l = label.getBoundingClientRect();
        if (l.width >= MIN && l.height >= MIN) continue;
      }
    }
    problems.push(`target smaller than 24x24 — ${name(el)} — ${r.width.toFixed(1)}x${r.height.toFixed(1)}`);
  }

  // Borders of fields, and of buttons without a fill of their own.
  for (const el of controls) {
    if (el.type === "checkbox" || el.type === "radio") continue;
    const s = getComputedStyle(el);
    const isField = el.matches("input, select, textarea") && !["submit", "button", "reset"].includes(el.type);
    const around = behind(el.parentElement);
    const fill = over(parse(s.backgroundColor) || { r: 0, g: 0, b: 0, a: 0 }, around);
    const width = parseFloat(s.borderTopWidth);
    if (!isField) {
      if (ratio(fill, around) >= 3 || width === 0) continue; // a filled button, or a text button
    }
    const border = over(parse(s.borderTopColor), around);
    const r = ratio(border, around);
    if (r < 3) problems.push(`border under 3:1 — ${name(el)} — ${r.toFixed(2)}:1 (${s.borderTopColor})`);
  }

  // The focus ring, where focus lands (everything focusable that is visible).
  const active = document.activeElement;
  const focusables = [
    ...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"),
  ].filter(visible);
  for (const el of focusables.slice(0, 80)) {
    if (el.closest("dialog") && !el.closest("dialog").open) continue;
    el.focus({ focusVisible: true, preventScroll: true });
    if (document.activeElement !== el) continue;
    const s = getComputedStyle(el);
    const width = s.outlineStyle === "none" ? 0 : parseFloat(s.outlineWidth);
    if (width < 2) {
      problems.push(`no focus ring of 2 px or more — ${name(el)} — outline ${s.outlineStyle} ${s.outlineWidth}`);
      continue;
    }
    const around = behind(el.parentElement);
    const r = ratio(over(parse(s.outlineColor), around), around);
    if (r < 3) problems.push(`focus ring under 3:1 — ${name(el)} — ${r.toFixed(2)}:1 (${s.outlineColor})`);
  }
  // Names that do not say which row: the same name for different links or different forms.
  const accessibleName = (el) =>
    (el.getAttribute("aria-label") || el.textContent || "").replace(/\s+/g, " ").trim();
  const seen = new Map();
  for (const el of [...document.querySelectorAll("a[href], button")].filter(visible)) {
    if (el.closest("dialog") && !el.closest("dialog").open) continue;
    const label = accessibleName(el);
    let what;
    if (el.tagName === "A") what = el.getAttribute("href");
    else {
      const form = el.form;
      const hidden = form
        ? [...form.querySelectorAll("input[type=hidden]:not([name=csrf_token])")].map((i) => `${i.name}=${i.value}`)
        : [];
      what = [form ? form.getAttribute("action") : "", el.name, el.value, ...hidden].join("&");
    }
    const key = `${el.tagName}:${label}`;
    if (!seen.has(key)) seen.set(key, new Set());
    seen.get(key).add(what);
  }
  for (const [key, targets] of seen) {
    if (targets.size > 1) problems.push(`same name, ${targets.size} different targets — ${key}`);
  }

  if (active && active !== document.body) active.focus({ preventScroll: true });
  else document.activeElement && document.activeElement.blur();
  return [...new Set(problems)];
};
