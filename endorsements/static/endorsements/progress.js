// Keeps a file's page current while it is processed: polls the progress JSON and, once the file
// is finished, loads the page again so the results appear (no state kept in the browser).
(function () {
  "use strict";
  var root = document.getElementById("progress");
  if (!root || !window.fetch || root.getAttribute("data-finished") === "true") return;
  var url = root.getAttribute("data-progress-url");
  var bar = document.getElementById("progress-bar");

  function show(p) {
    var total = p.rows_total === null ? "?" : p.rows_total;
    document.getElementById("progress-status").textContent = p.status_words;
    document.getElementById("progress-text").textContent =
      p.rows_done + " of " + total + " rows done (" + p.percent + "%)";
    document.getElementById("progress-counts").textContent =
      "Accepted: " + p.accepted + " · Need fixing: " + p.rejected + " · Already sent before: " + p.duplicate;
    bar.value = p.percent;
    bar.textContent = p.percent + "%";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (p) {
        if (p) show(p);
        if (p && p.finished) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
