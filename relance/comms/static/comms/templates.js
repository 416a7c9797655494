/* The Templates page: the preview follows the wording as it is typed and the customer chosen;
   the sandbox's errors appear under the field they are in. No dependencies, no inline script. */
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  var picker = document.getElementById("preview-customer-form");
  var panel = document.getElementById("template-preview");
  if (!picker || !panel) return;
  var select = document.getElementById("preview-customer");
  var search = document.getElementById("preview-customer-search");
  var hidden = form ? form.querySelector("[data-customer-field]") : null;
  var pending = null;
  var sequence = 0;

  function showErrors(errors) {
    if (!form) return;
    form.querySelectorAll("[data-error-for]").forEach(function (slot) {
      var field = slot.dataset.errorFor;
      var input = form.elements[field];
      var sentence = errors[field] || "";
      slot.textContent = sentence;
      if (input) {
        if (sentence) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    });
  }

  function refresh() {
    var mine = ++sequence;
    var customer = select && select.value ? select.value : "";
    if (hidden && customer) hidden.value = customer; /* Save keeps the customer chosen */
    var request;
    if (form) {
      var data = new FormData(form);
      data.delete("save");
      data.set("customer", customer);
      request = fetch(form.dataset.previewUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" }
      });
    } else {
      request = fetch(picker.dataset.previewUrl + "&customer=" + encodeURIComponent(customer), {
        credentials: "same-origin"
      });
    }
    panel.setAttribute("aria-busy", "true");
    request.then(function (response) { return response.json(); }).then(function (answer) {
      if (mine !== sequence) return; /* an older answer, overtaken by a newer keystroke */
      panel.innerHTML = answer.html;
      panel.removeAttribute("aria-busy");
      showErrors(answer.errors || {});
    }).catch(function () { panel.removeAttribute("aria-busy"); });
  }

  function later() {
    if (pending) window.clearTimeout(pending);
    pending = window.setTimeout(refresh, 350);
  }

  if (form) form.addEventListener("input", later);
  if (select) select.addEventListener("change", refresh);

  var searching = null;
  if (search && select) {
    search.addEventListener("input", function () {
      if (searching) window.clearTimeout(searching);
      searching = window.setTimeout(function () {
        fetch(picker.dataset.optionsUrl + "&q=" + encodeURIComponent(search.value), { credentials: "same-origin" })
          .then(function (response) { return response.text(); })
          .then(function (options) {
            select.innerHTML = options;
            if (select.value) refresh();
          });
      }, 300);
    });
    picker.addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
  }
})();
