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
