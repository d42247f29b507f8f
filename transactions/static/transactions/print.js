// "Print the statement": the page's print stylesheet keeps only the summary and the statement.
// A script file, not an inline handler: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print]") : null;
    if (!target) return;
    event.preventDefault();
    window.print();
  });
})();
