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
