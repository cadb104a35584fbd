// anycst status page: plain JavaScript, no framework.  The API key is kept in
// sessionStorage (or taken from the URL fragment #key=...) and sent as X-API-Key
// to the JSON endpoints of the API.
"use strict";
const API = "/api/v1/servers/localhost";
let key = sessionStorage.getItem("anycst-key") || "";
const frag = new URLSearchParams(location.hash.slice(1));
if (frag.get("key")) {
  key = frag.get("key");
  sessionStorage.setItem("anycst-key", key);
}
const history = {};   // zone -> [{serial, committed, targets: {name: lag_ms}}]

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function get(path) {
  const r = await fetch(API + path, {headers: {"X-API-Key": key}});
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function row(tbody, cells) {
  const tr = el("tr");
  for (const c of cells) {
    if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); }
    else tr.appendChild(el("td", c === undefined ? "" : c));
  }
  tbody.appendChild(tr);
}

function ago(s) {
  if (s === null || s === undefined) return "never";
  return new Date(s * 1000).toISOString();
}

async function pops() {
  const list = await get("/secondaries");
  const tb = document.querySelector("#pops tbody");
  tb.replaceChildren();
  for (const p of list) {
    const healthy = p.zones_total > 0 && p.zones_current === p.zones_total;
    row(tb, [p.name, p.mesh_ip, el("span", healthy ? "in step" : "behind", healthy ? "ok" : "bad"),
             p.zones_current + "/" + p.zones_total, ago(p.last_seen), p.transfers]);
  }
  return list;
}

function targetName(t) {
  return t.pop || t.name || t.address || t.remote || "?";
}

async function zones() {
  const zs = await get("/zones");
  const tb = document.querySelector("#lag tbody");
  tb.replaceChildren();
  const sel = document.getElementById("zone");
  const chosen = sel.value;
  sel.replaceChildren();
  for (const z of zs) {
    const o = el("option", z.name);
    o.value = z.id;
    sel.appendChild(o);
    const pr = await get("/zones/" + encodeURIComponent(z.id) + "/propagation");
    const h = history[z.name] || (history[z.name] = []);
    let entry = h.find(e => e.serial === pr.serial);
    if (!entry) {
      entry = {serial: pr.serial, committed: pr.committed_at, targets: {}};
      h.push(entry);
      if (h.length > 20) h.shift();
    }
    if (!pr.targets.length) row(tb, [z.name, pr.serial, "(no targets)", "", "", "", ""]);
    for (const t of pr.targets) {
      const n = targetName(t);
      if (t.serial === pr.serial && typeof t.lag_ms === "number") entry.targets[n] = t.lag_ms;
      const nt = t.notify || {};
      row(tb, [z.name, pr.serial, n, t.serial, t.lag_ms, nt.at || "", nt.answered || ""]);
    }
  }
  if (chosen) sel.value = chosen;
  else {
    const first = zs.find(z => !z.name.startsWith("catalog."));
    if (first) sel.value = first.id;
  }
  return zs;
}

function timeline() {
  const svg = document.getElementById("timeline");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const points = [];
  for (const [zone, h] of Object.entries(history))
    for (const e of h)
      for (const [t, ms] of Object.entries(e.targets))
        points.push({label: zone + " " + e.serial + " " + t, ms: ms, at: e.committed});
  points.sort((a, b) => (a.at < b.at ? -1 : 1));
  const shown = points.slice(-12);
  const max = Math.max(100, ...shown.map(p => p.ms));
  shown.forEach((p, i) => {
    const y = 8 + i * 15;
    const w = Math.max(1, Math.round(p.ms / max * 420));
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", 260); r.setAttribute("y", y); r.setAttribute("width", w);
    r.setAttribute("height", 11); r.setAttribute("fill", "#4a7");
    r.setAttribute("class", "bar"); r.setAttribute("data-ms", p.ms);
    svg.appendChild(r);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 4); t.setAttribute("y", y + 10); t.setAttribute("font-size", "11");
    t.textContent = p.label + ": " + p.ms + " ms";
    svg.appendChild(t);
  });
}

async function journal() {
  const id = document.getElementById("zone").value;
  const tb = document.querySelector("#journal tbody");
  tb.replaceChildren();
  if (!id) return;
  const j = await get("/zones/" + encodeURIComponent(id) + "/journal");
  const rrs = list => (list || []).filter(r => r.type !== "SOA")
    .map(r => r.name + " " + r.ttl + " " + r.type + " " + r.content).join("; ");
  for (const e of (j.entries || []).slice(-50).reverse()) {
    row(tb, [e.serial_from, e.serial_to, ago(e.time), rrs(e.removed), rrs(e.added)]);
  }
}

async function refresh() {
  const st = document.getElementById("state");
  if (!key) { st.textContent = "enter the API key"; return; }
  try {
    await pops();
    await zones();
    timeline();
    await journal();
    st.textContent = "updated " + new Date().toISOString();
    document.body.dataset.loaded = "1";
  } catch (e) {
    st.textContent = String(e.message);
  }
}

document.getElementById("keyform").addEventListener("submit", ev => {
  ev.preventDefault();
  key = document.getElementById("key").value;
  sessionStorage.setItem("anycst-key", key);
  refresh();
});
document.getElementById("zone").addEventListener("change", journal);
refresh();
setInterval(refresh, 250);
