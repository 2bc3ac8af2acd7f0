// nk-watchdog's health page: one self-contained HTML document (no external scripts, styles or
// fonts: an operator's browser may reach the guest and nothing else). It fetches /health.json
// every two seconds and renders it with textContent only, so nothing a guest wrote into the
// region (a panic reason) can become markup.
#pragma once

#include <string_view>

namespace nk::wd {

inline constexpr std::string_view kHealthPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nk platform health</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
.running { color: #060; } .down, .failed, .stale { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>nk platform <span id="platform">?</span></h1>
<p>Served by guest <span id="served_by">?</span>'s nk-watchdog at <span id="time">?</span>
(<a href="/health.json">health.json</a>)</p>
<noscript><p>This page needs JavaScript to render; the data is at <a href="/health.json">/health.json</a>.</p></noscript>
<h2>Guests</h2>
<table><thead><tr><th>name</th><th>kind</th><th>state</th><th>incarnation</th><th>restarts</th>
<th>last heartbeat</th><th>health word</th><th>missed beats</th><th>last failure</th></tr></thead>
<tbody id="guests"></tbody></table>
<h2>Failure history</h2>
<table><thead><tr><th>time</th><th>guest</th><th>event</th><th>detector</th><th>reason</th><th>incarnation</th></tr></thead>
<tbody id="history"></tbody></table>
<p id="error" class="failed"></p>
<script>
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}
function render(h) {
  document.getElementById("platform").textContent = h.platform;
  document.getElementById("served_by").textContent = h.served_by;
  document.getElementById("time").textContent = h.time;
  const guests = document.getElementById("guests");
  guests.replaceChildren();
  for (const g of h.guests) {
    const row = guests.insertRow();
    const beat = g.heartbeat;
    cell(row, g.name); cell(row, g.kind); cell(row, g.state, g.state);
    cell(row, g.incarnation); cell(row, g.restarts);
    cell(row, beat ? beat.age_ms.toFixed(1) + " ms ago" : "not armed", beat && beat.stale ? "stale" : "");
    cell(row, beat ? beat.health : null); cell(row, beat ? beat.missed : null);
    cell(row, g.last_failure ? g.last_failure.time + " " + g.last_failure.reason : "none");
  }
  const history = document.getElementById("history");
  history.replaceChildren();
  for (const e of h.history.slice().reverse()) {
    const row = history.insertRow();
    const f = e.failure;
    cell(row, f ? f.time : e.time); cell(row, e.guest); cell(row, e.event, e.event === "failure" ? "failed" : "");
    cell(row, f ? f.detector : null); cell(row, f ? f.reason : null); cell(row, e.incarnation);
  }
}
async function refresh() {
  try {
    const answer = await fetch("/health.json", {cache: "no-store"});
    render(await answer.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the watchdog: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

}  // namespace nk::wd
