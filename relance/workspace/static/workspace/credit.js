/* The customer 360's credit panel, loaded after the page (the link works without JavaScript). */
document.addEventListener("DOMContentLoaded", function () {
  var panel = document.getElementById("credit-panel");
  if (!panel || !window.fetch) return;
  fetch(panel.dataset.url, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.text() : ""; })
    .then(function (html) { if (html) panel.innerHTML = html; });
});
