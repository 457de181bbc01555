// The live dashboard: a snapshot over the WebSocket, then every new metric and anomaly.
// Metrics are kept per window, region and category (an update replaces its key), summed per region
// for the charts; only the last 60 windows up to the newest are shown.
"use strict";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const WINDOWS_SHOWN = 60;
const metrics = new Map();   // window_ms -> Map("region|category" -> row)
const anomalyIds = new Set();
let newestEnd = null;
let redrawQueued = false;

function chart(id, label) {
  return new Chart(document.getElementById(id), {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: 2,
      interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: label } } },
      elements: { point: { radius: 0 } },
    },
  });
}
const charts = { revenue: chart("revenue-chart", "EUR"), orders: chart("orders-chart", "orders") };

function hhmm(ms) { return new Date(ms).toISOString().slice(11, 16); }

function addMetrics(rows) {
  for (const row of rows) {
    if (!metrics.has(row.window_ms)) metrics.set(row.window_ms, new Map());
    metrics.get(row.window_ms).set(row.region + "|" + row.category, row);
    if (newestEnd === null || row.window_end > newestEnd) newestEnd = row.window_end;
  }
  queueRedraw();
}

function addAnomalies(rows, fresh) {
  const list = document.getElementById("anomalies");
  const sorted = [...rows].sort((a, b) => a.window_ms - b.window_ms);
  for (const a of sorted) {
    const id = [a.rule_id, a.window_ms, a.region, a.category].join("|");
    if (anomalyIds.has(id)) continue;
    anomalyIds.add(id);
    const li = document.createElement("li");
    li.dataset.id = id;
    li.textContent = `${hhmm(a.window_ms)} [${a.level}]  ${a.region} / ${a.category}: ${a.rule_id} (${a.metric} ${Number(a.observed).toFixed(2)} vs threshold ${Number(a.threshold).toFixed(2)})`;
    if (fresh) li.classList.add("new");
    list.prepend(li);
  }
  while (list.children.length > 200) list.lastChild.remove();
}

function queueRedraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  setTimeout(() => { redrawQueued = false; redraw(); }, 200);
}

// What the charts show, also read by the browser test: {labels, window_ms, revenue: {region: [...]}, orders: {...}}.
function series() {
  const windows = [...metrics.keys()].sort((a, b) => a - b).slice(-WINDOWS_SHOWN);
  const regions = new Set();
  for (const w of windows) for (const row of metrics.get(w).values()) regions.add(row.region);
  const out = { labels: windows.map(hhmm), window_ms: windows, revenue: {}, orders: {} };
  for (const region of [...regions].sort()) {
    out.revenue[region] = []; out.orders[region] = [];
    for (const w of windows) {
      let revenue = 0, orders = 0;
      for (const row of metrics.get(w).values()) if (row.region === region) { revenue += row.revenue_eur; orders += row.order_count; }
      out.revenue[region].push(Math.round(revenue * 100) / 100);
      out.orders[region].push(orders);
    }
  }
  return out;
}
window.dashboardSeries = series;

function redraw() {
  const s = series();
  for (const [name, c] of Object.entries(charts)) {
    c.data.labels = s.labels;
    c.data.datasets = Object.keys(s[name]).map((region, i) => ({
      label: region, data: s[name][region], borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length], borderWidth: 2, tension: 0.2,
    }));
    c.update("none");
  }
  const oldest = s.window_ms.length ? s.window_ms[0] : null;
  for (const w of [...metrics.keys()]) if (oldest !== null && w < oldest) metrics.delete(w);
  document.getElementById("newest").textContent = newestEnd ? newestEnd.replace("T", " ").replace(".000Z", " UTC") : "waiting for data";
}

function connect() {
  const status = document.getElementById("status");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { status.textContent = "live"; };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "snapshot") {
      metrics.clear();
      addMetrics(message.metrics);
      addAnomalies(message.anomalies, false);
    } else if (message.type === "metrics") {
      addMetrics(message.rows);
    } else if (message.type === "anomalies") {
      addAnomalies(message.rows, true);
    }
  };
  ws.onclose = () => { status.textContent = "reconnecting"; setTimeout(connect, 1000); };
}
connect();
