/* Relance workspace: keyboard navigation, search as you type, outcome tabs. No dependencies. */
(function () {
  "use strict";
  /* Single-key shortcuts can be turned off (WCAG 2.1.4): the choice is kept in this browser's
     localStorage under "relance.shortcuts" ("off"; on when absent), for every workspace page. */
  var STORE = "relance.shortcuts";
  function shortcutsOn() {
    try { return window.localStorage.getItem(STORE) !== "off"; } catch (e) { return true; }
  }
  var toggle = document.getElementById("shortcuts-toggle");
  function showToggle() {
    if (!toggle) return;
    var on = shortcutsOn();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = "Keyboard shortcuts: " + (on ? "on" : "off");
    document.querySelectorAll("[data-shortcut-hint]").forEach(function (hint) { hint.hidden = !on; });
  }
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      try { window.localStorage.setItem(STORE, shortcutsOn() ? "off" : "on"); } catch (e) { /* private mode */ }
      showToggle();
    });
    showToggle();
  }

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  /* Lists: j/k move, Enter open, x select. Cards marked data-ws-row (the cash queue's lines) are
     rows too; a key names an action of the current row with data-key: a button is pressed, a
     <details> is opened and its first field focused. */
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.ws-list tbody tr[data-href], [data-ws-row]"));
  var current = -1;
  function focusRow(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("current", i === current); });
    rows[current].focus();
    rows[current].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (row, i) {
    row.addEventListener("click", function (event) {
      if (!row.dataset.href || event.target.closest("a, input, select, button, form")) return;
      window.location = row.dataset.href;
    });
    row.addEventListener("focus", function () { current = i; });
  });
  if (rows.length) focusRow(0);

  /* Outcome tabs on the customer page. */
  var form = document.getElementById("outcome-form");
  function chooseOutcome(name) {
    if (!form) return;
    form.hidden = false;
    form.elements.outcome.value = name;
    form.querySelectorAll("label[data-for]").forEach(function (label) {
      label.hidden = label.dataset["for"].split(" ").indexOf(name) < 0;
    });
    document.querySelectorAll(".ws-tabs button").forEach(function (b) {
      b.setAttribute("aria-selected", b.dataset.outcome === name ? "true" : "false");
    });
    var first = form.querySelector("label:not([hidden]) input, label:not([hidden]) select");
    if (first) first.focus();
  }
  document.querySelectorAll(".ws-tabs button").forEach(function (button) {
    button.addEventListener("click", function () { chooseOutcome(button.dataset.outcome); });
  });
  /* A refused outcome comes back shown, with what was typed: open its tab, select the invoice
     chosen (the options are written by the server), and focus the first field in error. */
  if (form && !form.hidden && form.elements.outcome.value) {
    var invoice = form.elements.invoice;
    if (invoice && invoice.dataset.selected) invoice.value = invoice.dataset.selected;
    chooseOutcome(form.elements.outcome.value);
    var invalid = form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  }

  /* Behaviour evidence, loaded after the page (the engine computes it). */
  var behaviour = document.getElementById("behaviour");
  if (behaviour && window.fetch) {
    fetch(behaviour.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { if (html) behaviour.innerHTML = html; });
  }

  /* Customer page: "Show more open items" appends the next page's rows (the link works without it). */
  document.querySelectorAll("a[data-more]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var body = document.querySelector("#open-items tbody");
      if (!body || !window.fetch) return;
      event.preventDefault();
      fetch(link.dataset.more, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var holder = document.createElement("tbody");
          holder.innerHTML = html;
          var next = holder.querySelector("tr[data-next]");
          if (next) { link.dataset.more = next.dataset.next; next.remove(); }
          else { link.parentNode.remove(); }
          Array.prototype.slice.call(holder.children).forEach(function (row) { body.appendChild(row); });
        });
    });
  });

  /* Search as you type. */
  var box = document.getElementById("ws-search");
  var list = document.getElementById("ws-search-results");
  var timer = null, latest = 0, picked = -1;
  function render(results, query) {
    list.innerHTML = "";
    picked = -1;
    if (query && !results.length) {
      var none = document.createElement("li");
      none.className = "empty";
      none.textContent = "No result for \u201c" + query + "\u201d";
      list.appendChild(none);
      list.hidden = false;
      return;
    }
    results.forEach(function (hit) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      var a = document.createElement("a");
      a.href = hit.url;
      a.textContent = hit.label;
      var small = document.createElement("small");
      small.textContent = " " + hit.kind + " · " + hit.detail;
      a.appendChild(small);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
  }
  if (box && list) {
    box.addEventListener("input", function () {
      clearTimeout(timer);
      var q = box.value.trim();
      if (q.length < 2) { render([]); return; }
      timer = setTimeout(function () {
        var ticket = ++latest;
        fetch(box.dataset.url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) { if (ticket === latest) render(data.results || [], q); });
      }, 150);
    });
    box.addEventListener("keydown", function (event) {
      var items = list.querySelectorAll("a");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        picked = Math.max(0, Math.min(items.length - 1, picked + (event.key === "ArrowDown" ? 1 : -1)));
        items.forEach(function (a, i) { a.classList.toggle("current", i === picked); });
      } else if (event.key === "Enter" && items.length) {
        event.preventDefault();
        window.location = items[Math.max(picked, 0)].href;
      } else if (event.key === "Enter" && box.value.trim()) {
        window.location = box.dataset.page + "?q=" + encodeURIComponent(box.value.trim());
      } else if (event.key === "Escape") {
        render([]); box.blur();
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var key = event.key;
    if (!shortcutsOn()) {
      /* Enter still opens the row that has the focus: it is no character key. */
      if (key === "Enter" && rows.indexOf(document.activeElement) >= 0 && document.activeElement.dataset.href) {
        window.location = document.activeElement.dataset.href;
      }
      return;
    }
    if (key === "/" && box) { event.preventDefault(); box.focus(); return; }
    if (rows.length) {
      if (key === "j") { focusRow(current + 1); event.preventDefault(); return; }
      if (key === "k") { focusRow(current - 1); event.preventDefault(); return; }
      if (key === "Enter" && current >= 0 && rows[current].dataset.href) { window.location = rows[current].dataset.href; return; }
      if (key === "x" && current >= 0) {
        var check = rows[current].querySelector("input[type=checkbox]");
        if (check) check.checked = !check.checked;
        return;
      }
      var action = current >= 0 && rows[current].querySelector('[data-key="' + key + '"]');
      if (action) {
        event.preventDefault();
        if (action.tagName === "DETAILS") {
          action.open = true;
          var field = action.querySelector("input:not([type=hidden]), select, textarea");
          if (field) field.focus();
        } else {
          action.click();
        }
        return;
      }
    }
    var next = document.getElementById("next-customer");
    if (key === "n" && next) { window.location = next.href; return; }
    var shortcuts = { p: "promise", d: "dispute", r: "reached", a: "no_answer", w: "wrong_number", c: "call_back" };
    if (form && shortcuts[key]) {
      var tab = document.querySelector('.ws-tabs button[data-outcome="' + shortcuts[key] + '"]');
      if (tab) { event.preventDefault(); chooseOutcome(shortcuts[key]); }
    }
  });
})();
