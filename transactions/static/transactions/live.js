// Keeps a party's status page current: the notifications app pushes an event on the transaction's
// WebSocket group whenever something happens to it, in the web process or in a worker (every
// process shares the Redis channel layer); the page then fetches itself again and swaps the live
// section in (no manual reload, no state kept in the browser).
(function () {
  "use strict";
  var root = document.getElementById("live-root");
  if (!root || !window.WebSocket || !window.fetch) return;
  var subject = root.getAttribute("data-live-subject");
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + window.location.host + "/ws/subjects/" + subject + "/";
  var pending = null;
  var backoff = 1000;
  var everConnected = false;

  function refresh() {
    pending = null;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live-root");
        if (!fresh) return;
        root.innerHTML = fresh.innerHTML;
        root.setAttribute("data-live-refreshes", String(Number(root.getAttribute("data-live-refreshes") || 0) + 1));
      })
      .catch(function () { /* the next event tries again */ });
  }

  function soon() {
    // Several events arrive together for one change (status, notification, payment): refresh once.
    if (pending === null) pending = window.setTimeout(refresh, 250);
  }

  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () {
      backoff = 1000;
      root.setAttribute("data-live", "connected");
      // Events pushed while the socket was down are not replayed: catch up once on reconnecting.
      if (everConnected) soon();
      everConnected = true;
    };
    socket.onmessage = soon;
    socket.onclose = function () {
      root.setAttribute("data-live", "disconnected");
      window.setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  connect();
})();
