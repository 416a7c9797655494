/* The exception queue: the split form says, as amounts are typed, what is left of the line
   (the server says it again on submit). Keys are workspace.js's (data-ws-row, data-key). */
(function () {
  "use strict";
  function cents(text) {
    var t = String(text || "").replace(/[\s']/g, "");
    if (t.indexOf(",") >= 0 && t.indexOf(".") >= 0) {
      t = t.lastIndexOf(".") > t.lastIndexOf(",") ? t.replace(/,/g, "") : t.replace(/\./g, "").replace(",", ".");
    } else if (t.indexOf(",") >= 0) {
      t = t.replace(",", ".");
    }
    var n = Number(t);
    return isFinite(n) ? Math.round(n * 100) : 0;
  }
  document.querySelectorAll("form.cash-split").forEach(function (form) {
    var total = cents(form.dataset.amount);
    var live = form.querySelector(".cash-remainder-live");
    var out = live && live.querySelector("output");
    if (!out) return;
    function show() {
      var used = 0;
      form.querySelectorAll("input[name^=amount_]").forEach(function (input) { used += cents(input.value); });
      var rest = total - used;
      out.textContent = (rest / 100).toFixed(2) + " " + form.dataset.currency;
      out.classList.toggle("over", rest < 0);
      live.hidden = false;
    }
    form.addEventListener("input", show);
    show();
    /* Add rows: without a script the button posts the form back and the server shows it with
       more rows (nothing applied); with one, a row is added here, its fields named after the last. */
    var more = form.querySelector("button[name=more]");
    var body = form.querySelector(".cash-split-rows tbody");
    if (!more || !body) return;
    more.addEventListener("click", function (event) {
      var rows = body.querySelectorAll("tr");
      var last = rows[rows.length - 1];
      if (!last) return;
      event.preventDefault();
      var next = rows.length;
      var row = last.cloneNode(true);
      row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
      row.querySelectorAll("input").forEach(function (input) {
        var kind = input.name.replace(/_\d+$/, "");
        input.name = kind + "_" + next;
        input.value = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
        input.setAttribute("aria-label", (kind === "invoice" ? "Invoice " : "Amount ") + (next + 1));
      });
      body.appendChild(row);
      if (next + 1 >= Number(more.dataset.max || 200)) more.hidden = true;
      row.querySelector("input").focus();
    });
  });
  /* Assign: the customers whose name or reference has what is typed are offered as it is typed
     (the workspace search, /w/search/, of this entity); each offer is the customer's reference,
     which the server reads exactly. Without a script the server says which customers match. */
  document.querySelectorAll("form.cash-assign").forEach(function (form) {
    var input = form.querySelector("input[name=customer]");
    var list = input && document.getElementById(input.getAttribute("list"));
    if (!list || !window.fetch) return;
    var timer = null, latest = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) return;
      timer = setTimeout(function () {
        var ticket = ++latest;
        var url = form.dataset.search + "?q=" + encodeURIComponent(q) + "&entity=" + encodeURIComponent(form.dataset.entity);
        fetch(url, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) {
            if (ticket !== latest) return;
            list.innerHTML = "";
            (data.results || []).forEach(function (hit) {
              if (hit.kind !== "customer") return;
              var option = document.createElement("option");
              option.value = String(hit.detail || "").split(" \u00b7 ")[0];  /* "REF · entity" */
              option.label = hit.label;
              list.appendChild(option);
            });
          });
      }, 150);
    });
  });
  /* A refused form comes back open, with what was typed: focus its first field in error. */
  var invalid = document.querySelector(".cash-line [aria-invalid=true]");
  if (invalid) invalid.focus();
})();
