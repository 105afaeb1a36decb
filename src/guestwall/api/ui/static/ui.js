// guestwall dashboard: small progressive enhancements; every page works without this file.
// No inline scripts anywhere (the Content-Security-Policy allows only this file), no innerHTML.
"use strict";

// Forms with data-confirm ask before they submit (deletes).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The live drop log: ask for records after the newest shown, every 2 seconds, and add them as text.
function pollDropLog(table) {
  var body = table.tBodies[0];
  var state = document.getElementById("log-state");
  var after = Number(table.getAttribute("data-after") || "0");
  var fields = ["time", "host", "port", "direction", "verdict", "rule", "source", "destination", "protocol"];
  function tick() {
    fetch(table.getAttribute("data-feed") + "&after=" + after, {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        data.records.forEach(function (record) {
          var row = document.createElement("tr");
          fields.forEach(function (name) {
            var cell = document.createElement("td");
            cell.textContent = String(record[name]);
            row.appendChild(cell);
          });
          body.insertBefore(row, body.firstChild);
          after = Math.max(after, record.seq);
        });
        if (state) { state.textContent = "Live: updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function (error) {
        if (state) { state.textContent = "Live updates failed (" + error.message + "); retrying."; }
      })
      .finally(function () { window.setTimeout(tick, 2000); });
  }
  window.setTimeout(tick, 2000);
}

document.addEventListener("DOMContentLoaded", function () {
  var table = document.getElementById("drop-log");
  if (table) { pollDropLog(table); }
});
