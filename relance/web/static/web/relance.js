/* Relance pages: behaviour that used to be inline (the Content-Security-Policy forbids inline
   scripts and on…= handlers; docs/security.md). No dependencies. */
(function () {
  "use strict";
  /* <select data-autosubmit>, <input data-autosubmit>: submit the form on change. */
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field && field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
})();

/* Rows as cards on a phone: each cell is labelled with its column's header (CSS shows the label
   only on narrow screens, relance.css). No dependencies. */
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("main table").forEach(function (table) {
    var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (!cell.hasAttribute("data-label") && headers[index] && cell.colSpan === 1) {
          cell.setAttribute("data-label", headers[index]);
        }
      });
    });
  });
});
