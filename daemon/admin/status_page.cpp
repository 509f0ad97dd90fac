#include "daemon/admin/status_page.h"

namespace portcullis::admin {
namespace {

// Kept as one raw string so the page is a single self-contained response.
constexpr std::string_view kPage = R"PCHTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis status</title>
<link rel="icon" href="data:,">
<style>
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#667085; --card:#fff; --line:#e3e6ea;
        --accent:#2563eb; --good:#15803d; --bad:#b91c1c; --bar:#93c5fd; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:baseline; gap:1em; padding:12px 20px; background:#111827; color:#fff; }
header h1 { font-size:18px; margin:0; }
header .meta { color:#cbd5e1; font-size:13px; }
#state { margin-left:auto; font-size:13px; }
#state.off { color:#fca5a5; }
main { padding:16px 20px; max-width:1200px; margin:auto; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.card .v { font-size:22px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; }
.card .s { color:var(--muted); font-size:12px; }
h2 { font-size:15px; margin:20px 0 8px; }
canvas { width:100%; height:220px; background:var(--card); border:1px solid var(--line); border-radius:8px; }
.legend { color:var(--muted); font-size:12px; margin-top:4px; }
.legend b { display:inline-block; width:10px; height:10px; margin:0 4px 0 12px; vertical-align:middle; }
table { width:100%; border-collapse:collapse; background:var(--card); font-size:12.5px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.url { max-width:480px; overflow:hidden; text-overflow:ellipsis; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.deny { color:var(--bad); }
.alert { background:#fef2f2; border:1px solid #fca5a5; color:var(--bad); border-radius:8px; padding:8px 12px; margin-bottom:12px; }
.alert pre { margin:6px 0 0; white-space:pre-wrap; font-size:12.5px; color:var(--fg); }
.cols { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:0 20px; }
button { font:inherit; font-size:12px; padding:1px 8px; cursor:pointer; }
.empty { color:var(--muted); }
.hit { color:var(--good); }
</style>
</head>
<body>
<header><h1>Portcullis</h1><span class="meta" id="meta">connecting&hellip;</span><span id="state"></span></header>
<main>
<div class="alert" id="reload" hidden><b>The last reload FAILED: the previous configuration is still in force.</b><pre id="reload-error"></pre></div>
<div class="alert" id="restart" hidden><b>Restart required:</b> the configuration changes <span id="restart-keys"></span>, which keep their start-up value until a restart (last reload <span id="restart-time"></span>).</div>
<div class="grid" id="cards"></div>
<div class="cols">
<div><h2>Denials by rule</h2>
<table><thead><tr><th>rule</th><th class="num">denials</th></tr></thead><tbody id="denials"></tbody></table></div>
<div><h2>Logged-in users</h2>
<table><thead><tr><th>user</th><th class="num">requests</th><th class="num">bytes</th><th class="num">denials</th></tr></thead><tbody id="users"></tbody></table></div>
<div><h2>Clients blocked by the abuse guard</h2>
<table><thead><tr><th>client</th><th class="num">time left</th><th></th></tr></thead><tbody id="blocked"></tbody></table>
<div class="legend" id="unblock-result"></div></div>
</div>
<h2>Schedules and rules expiring within 24 hours</h2>
<table><thead><tr><th>schedule / rule</th><th>state</th><th>changes at</th></tr></thead><tbody id="time-rules"></tbody></table>
<h2>Top objects by bytes saved <span class="legend">(since start)</span></h2>
<table><thead><tr><th>object (cache key)</th><th class="num">size</th><th class="num">hits</th><th class="num">bytes saved</th></tr></thead><tbody id="top-objects"></tbody></table>
<h2>Last hour: hit ratio and bytes saved per minute</h2>
<canvas id="chart" width="1160" height="220"></canvas>
<div class="legend"><b style="background:#2563eb"></b>request hit ratio (left axis, %)<b style="background:#93c5fd"></b>bytes served from cache per minute (right axis)</div>
<h2>Recent requests</h2>
<table><thead><tr><th>time</th><th>client</th><th>method</th><th>url</th><th>status</th><th>cache</th><th>rule</th><th class="num">bytes</th><th class="num">ms</th></tr></thead>
<tbody id="recent"></tbody></table>
</main>
<script>
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const fmtBytes = (n) => {
    const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + u[i];
  };
  const fmtInt = (n) => Number(n).toLocaleString("en-US");
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const dur = (s) => {
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m";
  };
  function card(k, v, s) {
    const c = document.createElement("div");
    c.className = "card";
    const a = document.createElement("div"); a.className = "k"; a.textContent = k;
    const b = document.createElement("div"); b.className = "v"; b.textContent = v;
    c.append(a, b);
    if (s) { const d = document.createElement("div"); d.className = "s"; d.textContent = s; c.append(d); }
    return c;
  }
  function sum(o) { return Object.values(o).reduce((a, b) => a + b, 0); }
  function renderCards(st) {
    const c = st.connections, r = st.requests, by = r.by_class;
    const denied = sum(st.acl_denials);
    const lag = st.loop_lag_ms.length ? Math.max.apply(null, st.loop_lag_ms).toFixed(1) + " ms" : "-";
    const items = [
      ["connections", fmtInt(c.active), "limit " + fmtInt(c.limit) + ", total " + fmtInt(c.total)],
      ["refused", fmtInt(sum(c.refused)), Object.entries(c.refused).filter((e) => e[1]).map((e) => e[0] + " " + e[1]).join(", ")],
      ["requests", fmtInt(r.total), "2xx " + by["2xx"] + " 3xx " + by["3xx"] + " 4xx " + by["4xx"] + " 5xx " + by["5xx"]],
      ["hit ratio", pct(st.hit_ratio), "bytes: " + pct(st.byte_hit_ratio)],
      ["to clients", fmtBytes(st.bytes.to_clients), "from upstream " + fmtBytes(st.bytes.from_upstream)],
      ["saved", fmtBytes(st.bytes.served_from_cache), "served from cache"],
      ["cache store", fmtBytes(st.cache.size_bytes), (st.cache.max_size_bytes ? "of " + fmtBytes(st.cache.max_size_bytes) + " (" + pct(st.cache.size_bytes / st.cache.max_size_bytes) + "), " : "") + fmtInt(st.cache.objects) + " objects"],
      ["errors", fmtInt(st.upstream_errors + st.dns_failures), "upstream " + st.upstream_errors + ", dns " + st.dns_failures],
      ["acl denials", fmtInt(denied), Object.keys(st.acl_denials).length + " rules"],
      ["blocked clients", fmtInt(st.blocked_clients.length), "by the abuse guard"],
      ["reloads", fmtInt(st.reloads.success + st.reloads.failure), st.reloads.last_ok === false ? "last one FAILED" : st.reloads.failure + " failed"],
      ["loop lag", lag, st.loop_lag_ms.length + " workers"],
    ];
    const box = $("cards");
    box.replaceChildren.apply(box, items.map((i) => card(i[0], i[1], i[2])));
  }
  function row(cells, classes) {
    const tr = document.createElement("tr");
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (typeof c === "string") td.textContent = c; else td.append(c);
      if (classes[i]) td.className = classes[i];
      tr.append(td);
    });
    return tr;
  }
  function emptyRow(text, span) {
    const tr = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = span; td.className = "empty"; td.textContent = text; tr.append(td);
    return tr;
  }
  function renderDenials(st) {
    // All rules, most denials first (the JSON is in that order already).
    const rows = Object.entries(st.acl_denials).sort((a, b) => b[1] - a[1])
      .map((e) => row([e[0], fmtInt(e[1])], ["deny", "num"]));
    const tb = $("denials");
    tb.replaceChildren.apply(tb, rows.length ? rows : [emptyRow("no denials", 2)]);
  }
  function renderUsers(st) {
    // Names and counts only: credentials never reach /status.
    const rows = Object.entries(st.user_totals || {}).sort((a, b) => b[1].requests - a[1].requests)
      .map((e) => row([e[0], fmtInt(e[1].requests), fmtBytes(e[1].bytes), fmtInt(e[1].denials)],
                      ["", "num", "num", "num"]));
    const tb = $("users");
    tb.replaceChildren.apply(tb, rows.length ? rows : [emptyRow("nobody logged in", 4)]);
  }
  function renderTopObjects(st) {
    const rows = (st.top_objects || []).map((o) =>
      row([o.key, fmtBytes(o.size), fmtInt(o.hits), fmtBytes(o.bytes_saved)], ["url", "num", "num", "num"]));
    const tb = $("top-objects");
    tb.replaceChildren.apply(tb, rows.length ? rows : [emptyRow("nothing served from the cache yet", 4)]);
  }
  async function unblock(ip) {
    let text;
    try {
      const res = await fetch("unblock?ip=" + encodeURIComponent(ip),
                              { method: "POST", headers: { "X-Portcullis-Admin": "1" }, cache: "no-store" });
      text = (await res.text()).trim();
    } catch (err) { text = "unblock failed: " + err; }
    $("unblock-result").textContent = text;
    tick();
  }
  function renderBlocked(st) {
    const rows = st.blocked_clients.map((b) => {
      const btn = document.createElement("button");
      btn.textContent = "unblock";
      btn.addEventListener("click", () => unblock(b.client));
      return row([b.client, b.seconds_left >= 60 ? dur(b.seconds_left) : b.seconds_left + " s", btn], ["", "num", ""]);
    });
    const tb = $("blocked");
    tb.replaceChildren.apply(tb, rows.length ? rows : [emptyRow("none", 3)]);
  }
  function renderTimeRules(st) {
    const rows = (st.schedules || []).map((s) =>
      row(["schedule " + s.name + " (" + s.zone + ")", s.open ? "open" : "closed", s.next_change || "never"], ["", "", ""]));
    for (const r of st.expiring_rules || []) rows.push(row(["rule " + r.name + " (" + r.where + ")", "expires", r.until], ["", "", ""]));
    const tb = $("time-rules");
    tb.replaceChildren.apply(tb, rows.length ? rows : [emptyRow("none", 3)]);
  }
  function renderReload(st) {
    const failed = st.reloads.last_ok === false;
    $("reload").hidden = !failed;
    $("reload-error").textContent = failed ? (st.reloads.last_error || "") : "";
    const pending = st.reloads.restart_required || [];
    $("restart").hidden = pending.length === 0;
    $("restart-keys").textContent = pending.join(", ");
    $("restart-time").textContent = st.reloads.last_time || "";
  }
  function renderRecent(st) {
    const rows = st.recent.slice(-50).reverse().map((e) => {
      const tr = document.createElement("tr");
      const cells = [e.ts.slice(11, 23), e.client, e.method, e.url, String(e.status), e.cache,
                     e.rule, fmtInt(e.bytes_out), e.duration_ms.toFixed(0)];
      cells.forEach((t, i) => {
        const td = document.createElement("td");
        td.textContent = t;
        if (i === 3) { td.className = "url"; td.title = t; }
        if (i >= 7) td.className = "num";
        if (i === 6 && e.decision === "deny") td.className = "deny";
        if (i === 5 && e.cache === "HIT") td.className = "hit";
        tr.append(td);
      });
      return tr;
    });
    const tb = $("recent");
    tb.replaceChildren.apply(tb, rows);
  }
  function renderChart(hist) {
    const cv = $("chart");
    const ratio = window.devicePixelRatio || 1;
    const w = cv.clientWidth || 1160, h = cv.clientHeight || 220;
    cv.width = Math.round(w * ratio); cv.height = Math.round(h * ratio);
    const g = cv.getContext("2d");
    if (!g) return;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const L = 44, R = 64, T = 12, B = 24, pw = w - L - R, ph = h - T - B;
    const n = 60, step = pw / n;
    const pts = hist.slice(-n);
    const maxSaved = Math.max(1, ...pts.map((p) => p.bytes_saved));
    g.font = "11px system-ui, sans-serif";
    g.strokeStyle = "#e3e6ea"; g.fillStyle = "#667085"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = T + ph - ph * i / 4;
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
      g.textAlign = "right"; g.fillText(25 * i + "%", L - 6, y + 4);
      g.textAlign = "left"; g.fillText(fmtBytes(maxSaved * i / 4), L + pw + 6, y + 4);
    }
    g.textAlign = "center";
    for (let m = 0; m <= 60; m += 15) g.fillText(m === 60 ? "now" : "-" + (60 - m) + "m", L + m * step, h - 6);
    const x0 = L + (n - pts.length) * step;
    g.fillStyle = "#93c5fd";
    pts.forEach((p, i) => {
      const bh = ph * p.bytes_saved / maxSaved;
      g.fillRect(x0 + i * step + 1, T + ph - bh, Math.max(1, step - 2), bh);
    });
    g.strokeStyle = "#2563eb"; g.lineWidth = 2; g.beginPath();
    let started = false;
    pts.forEach((p, i) => {
      if (!p.requests) { started = false; return; }
      const x = x0 + (i + 0.5) * step, y = T + ph - ph * p.hits / p.requests;
      if (started) g.lineTo(x, y); else g.moveTo(x, y);
      started = true;
    });
    g.stroke();
    if (!pts.length) { g.fillStyle = "#667085"; g.fillText("no history yet: one point per minute", L + pw / 2, T + ph / 2); }
  }
  let last = null;
  async function tick() {
    try {
      const res = await fetch("status", { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const st = await res.json();
      last = st;
      $("meta").textContent = "version " + st.version + ", up " + dur(st.uptime_s) + ", " + st.now;
      $("state").textContent = "live"; $("state").className = "";
      renderReload(st); renderCards(st); renderDenials(st); renderUsers(st); renderBlocked(st); renderTimeRules(st); renderTopObjects(st);
      renderRecent(st); renderChart(st.history);
    } catch (err) {
      $("state").textContent = "offline (" + (err && err.message ? err.message : "error") + ")";
      $("state").className = "off";
    }
  }
  window.addEventListener("resize", () => { if (last) renderChart(last.history); });
  tick();
  setInterval(tick, 2000);
})();
</script>
</body>
</html>
)PCHTML";

constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace

std::string_view statusPageHtml() {
  return kPage;
}
std::string_view statusPageCsp() {
  return kCsp;
}

}  // namespace portcullis::admin
