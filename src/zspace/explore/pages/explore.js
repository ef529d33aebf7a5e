// zspace explore: the page. Talks to the JSON API of zspace/explore/app.py with the token of its own URL.
"use strict";
const TOKEN = new URLSearchParams(window.location.search).get("token") || "";
const state = { runs: [], maps: {}, clicked: null, clickedRun: null, a: null, b: null, samples: {}, busy: 0,
                errors: [], log: [], done: {} };
window.zspaceExplore = state;  // read by the browser tests

function status(finished) {  // finished: the name of an action that just completed (counted in "done")
  if (finished) { state.done[finished] = (state.done[finished] || 0) + 1; }
  document.body.dataset.zspaceStatus = JSON.stringify({ runs: state.runs.length, drawn: Object.keys(state.maps).length,
    busy: state.busy, errors: state.errors, done: state.done, ready: !!state.ready });
}

async function api(path, body) {
  state.busy += 1; status();
  try {
    const response = await fetch(path, { method: body ? "POST" : "GET",
      headers: { "Authorization": "token " + TOKEN, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined });
    const data = await response.json();
    if (!response.ok) { throw new Error(data.error || response.statusText); }
    return data;
  } catch (err) {
    state.errors.push(String(err.message || err));
    document.getElementById("error").textContent = String(err.message || err);
    throw err;
  } finally { state.busy -= 1; status(); }
}

function floats(b64) {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}
const png = b64 => "data:image/png;base64," + b64;

function colours(run, data) {
  const by = document.getElementById("colour").value;
  if (by === "label" && data.labels) { return { color: floats(data.labels), colorscale: "Portland" }; }
  if (by.startsWith("factor:") && data.factors[by.slice(7)]) {
    return { color: floats(data.factors[by.slice(7)]), colorscale: "Viridis", showscale: true };
  }
  return { color: by === "void" ? floats(data.void) : floats(data.radius), colorscale: "Viridis", showscale: true };
}

async function drawMap(run) {
  const view = document.getElementById("view").value;
  const t0 = performance.now();
  const data = await api(`/api/map?run=${encodeURIComponent(run.name)}&view=${encodeURIComponent(view)}`);
  const x = floats(data.x), y = floats(data.y);
  const div = document.getElementById("map-" + run.name);
  const codes = { type: "scattergl", mode: "markers", x: x, y: y, name: "codes", hoverinfo: "none",
                  marker: { size: 3, opacity: 0.6, ...colours(run, data) } };
  const marks = { type: "scattergl", mode: "markers", x: [], y: [], name: "marks", hoverinfo: "none",
                  marker: { size: 12, color: "rgba(0,0,0,0)", line: { color: "#e00", width: 2 } } };
  const picked = { type: "scattergl", mode: "markers", x: [], y: [], name: "picked", hoverinfo: "none",
                   marker: { size: 10, symbol: "x", color: "#000" } };
  const samples = { type: "scattergl", mode: "markers", x: [], y: [], name: "samples", hoverinfo: "none",
                    marker: { size: 4, color: "#d62728", opacity: 0.8 } };
  const layout = { margin: { l: 40, r: 10, t: 10, b: 30 }, dragmode: "pan", showlegend: false,
                   xaxis: { title: data.view + " (x)", zeroline: true }, yaxis: { zeroline: true } };
  await Plotly.react(div, [codes, marks, picked, samples], layout, { scrollZoom: true, responsive: true });
  const rows = data.rows ? floats(data.rows) : null;  // a t-SNE map shows a subsample: point i is code rows[i]
  const index = rows ? new Map(Array.from(rows, (r, i) => [r, i])) : null;
  state.maps[run.name] = { div, data, x, y, rows, index, view: data.view, plane: data.plane,
                           drawMs: performance.now() - t0 };
  if (!div.dataset.wired) { wire(run, div); div.dataset.wired = "1"; }
  status();
}

function dataCoordinates(div, event) {
  const layout = div._fullLayout, area = div.querySelector(".nsewdrag").getBoundingClientRect();
  return [layout.xaxis.p2d(event.clientX - area.left), layout.yaxis.p2d(event.clientY - area.top)];
}

function wire(run, div) {
  let down = null;
  div.addEventListener("mousedown", e => { down = [e.clientX, e.clientY]; });
  div.addEventListener("click", e => {
    if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) { return; }  // a pan, not a click
    if (!e.target.closest(".nsewdrag")) { return; }
    const [x, y] = dataCoordinates(div, e);
    clickAt(run, x, y);
  });
  div.on("plotly_hover", ev => {
    const point = ev.points[0];
    const m = state.maps[run.name];
    if (point.curveNumber === 0) { hoverCode(run, m.rows ? m.rows[point.pointIndex] : point.pointIndex); }
    if (point.curveNumber === 3) { hoverSample(run, point.pointIndex); }
  });
}

async function clickAt(run, x, y) {
  const view = state.maps[run.name].view, fill = document.getElementById("fill").value;
  const r = await api("/api/click", { run: run.name, view, x, y, fill });
  state.clicked = r.z; state.clickedRun = run.name;
  document.getElementById("decoded").src = png(r.image);
  document.getElementById("decoded-z").textContent = JSON.stringify(r.z);
  document.getElementById("void-distance").textContent = r.void_distance.toFixed(3);
  document.getElementById("realism").textContent = r.realism === null ? "no feature net (run zspace score first)"
    : r.realism.toFixed(2);
  document.getElementById("click-note").textContent = r.note || "";
  document.getElementById("clicked-run").textContent = run.name;
  const box = document.getElementById("neighbours");
  box.innerHTML = "";
  for (const n of r.neighbours) {
    const img = document.createElement("img");
    img.className = "small"; img.src = png(n.image); img.title = `row ${n.row}, distance ${n.distance.toFixed(3)}`;
    box.appendChild(img);
  }
  const m = state.maps[run.name], at = r.row === null ? null : m.index.get(r.row);  // a t-SNE pick: the code
  Plotly.restyle(m.div, at == null ? { x: [[x]], y: [[y]] } : { x: [[m.x[at]]], y: [[m.y[at]]] }, [2]);
  state.log.push({ event: "click", run: run.name, view, x, y, fill, row: r.row });
  document.getElementById("slider").value = 0; document.getElementById("slider-value").textContent = "0";
  status("click");
}

async function hoverCode(run, row) {
  const r = await api(`/api/code?run=${encodeURIComponent(run.name)}&row=${row}`);
  document.getElementById("hover-real").src = png(r.image);
  document.getElementById("hover-reco").src = png(r.reconstruction);
  document.getElementById("hover-label").textContent = `${run.name} row ${row}` + (r.label ? ` (${r.label})` : "");
  for (const other of state.runs) {  // the same image in the other runs' maps
    const m = state.maps[other.name];
    const at = m ? (m.index ? m.index.get(row) : (row < m.x.length ? row : undefined)) : undefined;
    if (at !== undefined) { Plotly.restyle(m.div, { x: [[m.x[at]]], y: [[m.y[at]]] }, [1]); }
  }
  state.log.push({ event: "hover", run: run.name, row });
  status("hover");
}

let walking = Promise.resolve(), pendingWalk = null;
async function walk() {
  if (!state.clicked) { return; }
  const t = parseFloat(document.getElementById("slider").value);
  document.getElementById("slider-value").textContent = t.toFixed(2);
  const spec = document.getElementById("direction").value;
  const run = state.clickedRun;
  const d = await api(`/api/direction?run=${encodeURIComponent(run)}&direction=${encodeURIComponent(spec)}`);
  const z = state.clicked.map((v, i) => v + t * d.vector[i]);
  const r = await api("/api/decode", { run, z: [z] });
  document.getElementById("walked").src = png(r.images[0]);
  document.getElementById("walked").dataset.z = JSON.stringify(z);
  state.log.push({ event: "walk", t });
  status("walk");
}
function onSlide() {  // one request in flight, the newest position next: the image follows the drag
  if (pendingWalk) { return; }
  pendingWalk = walking.then(() => { pendingWalk = null; return walk(); }).catch(() => { pendingWalk = null; });
  walking = pendingWalk;
}

async function interpolate() {
  if (!state.a || !state.b) { document.getElementById("error").textContent = "pick A and B first"; return; }
  const along = document.getElementById("along").value;
  const r = await api("/api/interpolate", { run: state.a.run, a: state.a.z, b: state.b.z, steps: 9, along });
  const strip = document.getElementById("strip");
  strip.innerHTML = "";
  for (const image of r.images) { const img = document.createElement("img"); img.src = png(image); strip.appendChild(img); }
  await Plotly.react("profile", [{ x: r.t, y: r.void_distance, mode: "lines+markers", name: "void distance" }],
    { margin: { l: 35, r: 5, t: 5, b: 25 }, yaxis: { title: "void" },
      shapes: [{ type: "line", x0: 0, x1: 1, y0: 1, y1: 1, line: { dash: "dot", color: "#999" } }] });
  state.interpolation = r;
  status("interpolate");
}

async function overlay() {
  const sampler = document.getElementById("sampler").value, n = parseInt(document.getElementById("sample-n").value, 10);
  for (const run of state.runs) {
    const m = state.maps[run.name];
    const r = await api("/api/sample", { run: run.name, sampler, n, seed: 0, view: m.view });
    state.samples[run.name] = { z: floats(r.z), void: floats(r.void), dim: run.z_dim };
    await Plotly.restyle(m.div, { x: [Array.from(floats(r.x))], y: [Array.from(floats(r.y))] }, [3]);
  }
  status("overlay");
}

async function hoverSample(run, i) {
  const s = state.samples[run.name];
  const z = Array.from(s.z.slice(i * s.dim, (i + 1) * s.dim));
  const r = await api("/api/decode", { run: run.name, z: [z] });
  document.getElementById("sample-image").src = png(r.images[0]);
  document.getElementById("sample-void").textContent = `void distance ${s.void[i].toFixed(2)}`;
}

function makeBoxes() {  // every map's box first, so that each plot is laid out at its final width
  for (const run of state.runs) {
    const box = document.createElement("div");
    box.className = "map";
    box.innerHTML = `<div class="map-title"></div><div class="plot" style="height:480px"></div>`;
    box.querySelector(".plot").id = "map-" + run.name;
    box.querySelector(".map-title").textContent = `${run.name} (${run.model_kind}, z_dim ${run.z_dim}, ${run.split})`;
    document.getElementById("maps").appendChild(box);
  }
}

async function redraw() { for (const run of state.runs) { await drawMap(run); } }

async function main() {
  status();
  const listing = await api("/api/runs");
  state.runs = listing.runs;
  if (state.runs.length) { document.getElementById("view").value = state.runs[0].views[0]; }
  const views = document.getElementById("views");
  for (const name of new Set(state.runs.flatMap(r => r.views))) {
    const option = document.createElement("option"); option.value = name; views.appendChild(option);
  }
  const colour = document.getElementById("colour"), directions = document.getElementById("directions");
  for (const name of new Set(state.runs.flatMap(r => r.factor_names))) {
    const option = document.createElement("option"); option.textContent = "factor:" + name; colour.appendChild(option);
  }
  for (const name of new Set(state.runs.flatMap(r => r.factor_directions))) {
    const option = document.createElement("option"); option.value = "factor:" + name; directions.appendChild(option);
  }
  makeBoxes();
  await redraw();
  document.getElementById("view").addEventListener("change", redraw);
  document.getElementById("colour").addEventListener("change", redraw);
  document.getElementById("slider").addEventListener("input", onSlide);
  document.getElementById("pick-a").addEventListener("click", () => { state.a = { z: state.clicked, run: state.clickedRun }; });
  document.getElementById("pick-b").addEventListener("click", () => { state.b = { z: state.clicked, run: state.clickedRun }; });
  document.getElementById("interpolate").addEventListener("click", interpolate);
  document.getElementById("overlay").addEventListener("click", overlay);
  state.ready = true;
  status("ready");
}
main().catch(err => { state.errors.push(String(err)); status(); });
