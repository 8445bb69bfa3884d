// Oneiric's control surface: plain JS, no build step. It speaks OSCQuery only: GET of the
// namespace, then one WebSocket on the same port (LISTEN/IGNORE as JSON text, values both
// ways as binary OSC packets, PATH_ADDED/PATH_REMOVED when the namespace changes).
"use strict";

const BANDS = ["delta", "theta", "alpha", "sigma", "beta", "gamma"];
const BAND_COLOURS = ["#5b6cff", "#37b6ff", "#3fe0a0", "#e8d44d", "#ff9a3c", "#ff4f7a"];
const HISTORY = 240; // samples kept per plotted signal
const PLOTTED = [...BANDS, "heart", "breath", "stage"];
const token = new URLSearchParams(location.search).get("token");

const state = {
  methods: new Map(), // path -> node JSON
  widgets: new Map(), // path -> {input, output, node}
  plots: new Map(), // "/dreamer/N" -> {canvas, history, samples, stage, heart, box}
  held: new Set(), // paths the user is dragging: incoming values wait
  ws: null,
  thumbUrl: null,
  thumbBusy: false, // a thumbnail is decoding
};

// OSC 1.0: just what the rig sends and takes
function pad4(n) { return (n + 4) & ~3; }
function oscString(s) {
  const raw = new TextEncoder().encode(s);
  const out = new Uint8Array(pad4(raw.length));
  out.set(raw);
  return out;
}
function oscMessage(address, args) {
  let tags = ",";
  const parts = [];
  for (const a of args) {
    if (a === true || a === false) { tags += a ? "T" : "F"; }
    else if (typeof a === "number") {
      tags += "f";
      const b = new ArrayBuffer(4);
      new DataView(b).setFloat32(0, a);
      parts.push(new Uint8Array(b));
    } else { tags += "s"; parts.push(oscString(String(a))); }
  }
  const chunks = [oscString(address), oscString(tags), ...parts];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}
function readString(view, at) {
  let end = at;
  while (view.getUint8(end) !== 0) end++;
  const text = new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + at, end - at));
  return [text, pad4(end - at) + at];
}
function decodePacket(view, out) {
  const [head] = readString(view, 0);
  if (head === "#bundle") {
    let at = 16;
    while (at < view.byteLength) {
      const size = view.getInt32(at);
      decodePacket(new DataView(view.buffer, view.byteOffset + at + 4, size), out);
      at += 4 + size;
    }
    return out;
  }
  let [address, at] = readString(view, 0);
  let tags;
  [tags, at] = readString(view, at);
  const args = [];
  for (const t of tags.slice(1)) {
    if (t === "f") { args.push(view.getFloat32(at)); at += 4; }
    else if (t === "i") { args.push(view.getInt32(at)); at += 4; }
    else if (t === "s") { let s; [s, at] = readString(view, at); args.push(s); }
    else if (t === "b") {
      const n = view.getInt32(at);
      args.push(new Uint8Array(view.buffer, view.byteOffset + at + 4, n));
      at += 4 + pad4(n - 1);
    } else if (t === "T") args.push(true);
    else if (t === "F") args.push(false);
    else if (t === "N") args.push(null);
  }
  out.push([address, args]);
  return out;
}

function send(address, args) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(oscMessage(address, args));
}
function listen(path) {
  state.ws.send(JSON.stringify({ COMMAND: "LISTEN", DATA: path }));
}

// the namespace
function flatten(node, out) {
  if (node.TYPE !== undefined) out.set(node.FULL_PATH, node);
  for (const child of Object.values(node.CONTENTS || {})) flatten(child, out);
  return out;
}
function groupOf(path) {
  const p = path.split("/");
  if (p.includes("fx")) return "Effects";
  if (p[1] === "merge") return "Merge";
  if (p[1] === "master" || (p[1] === "dreamer" && ["volume", "pitch", "voice"].includes(p[3]))) {
    return "Audio";
  }
  if (p[1] === "dreamer") return `Dreamer ${p[2]}`;
  return "Show";
}
function label(path, group) {
  // inside a dreamer's or the merge's group the group says whose; elsewhere the path does
  const p = path.split("/");
  if (group.startsWith("Dreamer")) return p.slice(3).join("/");
  if (group === "Merge") return p.slice(2).join("/");
  if (group === "Effects") {
    const i = p.indexOf("fx");
    return `${p[1] === "dreamer" ? p[2] + " " : ""}fx${p[i + 1]}: ${p.slice(i + 2).join("/")}`;
  }
  if (p[1] === "dreamer") return `${p[2]}: ${p.slice(3).join("/")}`;
  return p.slice(1).join("/");
}
function shown(value, node) {
  if (typeof value !== "number") return String(value);
  const unit = node.UNIT ? " " + node.UNIT[0] : "";
  return (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2)) + unit;
}

function control(node) {
  const row = document.createElement("div");
  row.className = "row";
  const name = document.createElement("label");
  name.textContent = label(node.FULL_PATH, groupOf(node.FULL_PATH));
  name.title = `${node.FULL_PATH}: ${node.DESCRIPTION || ""}`;
  const output = document.createElement("output");
  let input;
  const value = node.VALUE ? node.VALUE[0] : undefined;
  const range = node.RANGE ? node.RANGE[0] : {};
  if (node.TYPE === "T") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !!value;
    input.addEventListener("change", () => send(node.FULL_PATH, [input.checked]));
  } else if (node.TYPE === "s" && range.VALS) {
    input = document.createElement("select");
    for (const v of range.VALS) input.add(new Option(v, v));
    if (value !== undefined) input.value = value;
    input.addEventListener("change", () => send(node.FULL_PATH, [input.value]));
  } else if (node.TYPE === "f" || node.TYPE === "i") {
    input = document.createElement("input");
    input.type = "range";
    input.min = range.MIN;
    input.max = range.MAX;
    input.step = node.TYPE === "i" ? 1 : (range.MAX - range.MIN) / 1000;
    if (value !== undefined) input.value = value;
    output.textContent = value === undefined ? "" : shown(value, node);
    const hold = () => state.held.add(node.FULL_PATH);
    const free = () => state.held.delete(node.FULL_PATH);
    input.addEventListener("pointerdown", hold);
    input.addEventListener("pointerup", free);
    input.addEventListener("pointercancel", free);
    input.addEventListener("input", () => {
      output.textContent = shown(Number(input.value), node);
      send(node.FULL_PATH, [Number(input.value)]);
    });
  } else {
    return null; // points and colours: by OSC, not here
  }
  input.dataset.path = node.FULL_PATH;
  row.append(name, input, output);
  state.widgets.set(node.FULL_PATH, { input, output, node });
  return row;
}

function buttons(methods) {
  const cues = document.getElementById("cues");
  const scenes = document.getElementById("scenes");
  cues.replaceChildren();
  scenes.replaceChildren();
  const go = methods.get("/cue/go");
  if (go) {
    const b = document.createElement("button");
    b.className = "go";
    b.textContent = "GO";
    b.dataset.cue = "";
    b.addEventListener("click", () => send("/cue/go", []));
    cues.append(b);
    for (const name of ((go.OVERLOADS || [])[0] || { RANGE: [{ VALS: [] }] }).RANGE[0].VALS) {
      const c = document.createElement("button");
      c.textContent = name;
      c.dataset.cue = name;
      c.addEventListener("click", () => send("/cue/go", [name]));
      cues.append(c);
    }
  }
  const load = methods.get("/scene/load");
  for (const name of load && load.RANGE ? load.RANGE[0].VALS : []) {
    const s = document.createElement("button");
    s.textContent = `scene: ${name}`;
    s.dataset.scene = name;
    s.addEventListener("click", () => send("/scene/load", [name]));
    scenes.append(s);
  }
}

function plots(methods) {
  const box = document.getElementById("plots");
  const dreamers = [...new Set([...methods.keys()]
    .filter((p) => p.startsWith("/dreamer/") && p.endsWith("/alpha"))
    .map((p) => p.split("/").slice(0, 3).join("/")))];
  dreamers.sort((a, b) => Number(a.split("/")[2]) - Number(b.split("/")[2]));
  for (const [path, plot] of state.plots) {
    if (!dreamers.includes(path)) { plot.box.remove(); state.plots.delete(path); }
  }
  for (const path of dreamers) {
    if (!state.plots.has(path)) {
      const el = document.createElement("div");
      el.className = "plot";
      el.dataset.dreamer = path;
      el.dataset.samples = "0";
      const head = document.createElement("div");
      head.className = "label";
      const canvas = document.createElement("canvas");
      canvas.width = 480;
      canvas.height = 100;
      el.append(head, canvas);
      box.append(el);
      const history = Object.fromEntries(PLOTTED.map((k) => [k, []]));
      state.plots.set(path, { box: el, head, canvas, history, samples: 0, stage: "", heart: 0 });
    }
    const plot = state.plots.get(path);
    const stage = methods.get(`${path}/stage`);
    if (stage && stage.VALUE) plot.stage = stage.VALUE[0]; // streamed only when it changes
    for (const k of PLOTTED) listen(`${path}/${k}`);
  }
}

function build(root) {
  state.methods = flatten(root, new Map());
  state.widgets.clear();
  const groups = new Map();
  for (const node of state.methods.values()) {
    if (!(node.ACCESS & 2) || node.ACCESS === 2) continue; // controls: read and write
    const row = control(node);
    if (!row) continue;
    const g = groupOf(node.FULL_PATH);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(row);
  }
  const open = new Set([...document.querySelectorAll("details[open]")].map((d) => d.dataset.group));
  const box = document.getElementById("controls");
  box.replaceChildren();
  const order = (g) => ["Merge", "Show", "Audio", "Effects"].indexOf(g) + 1 || 10 + Number(g.split(" ")[1]);
  for (const g of [...groups.keys()].sort((a, b) => order(a) - order(b))) {
    const d = document.createElement("details");
    d.dataset.group = g;
    d.open = open.size ? open.has(g) : g === "Merge";
    const s = document.createElement("summary");
    s.textContent = g;
    d.append(s, ...groups.get(g));
    box.append(d);
  }
  buttons(state.methods);
  for (const path of state.widgets.keys()) listen(path);
  plots(state.methods);
  if (state.methods.has("/live/thumbnail")) listen("/live/thumbnail");
}

let reloading = null;
async function reload() {
  const r = await fetch("/", { headers: { Accept: "application/json" } });
  build(await r.json());
}
function reloadSoon() {
  clearTimeout(reloading);
  reloading = setTimeout(reload, 150);
}

function received(address, args) {
  if (address === "/live/thumbnail") {
    // Decode off-screen, then swap the element: the picture on show never blanks
    // between frames, and frames that arrive while one decodes are dropped.
    if (state.thumbBusy) return;
    state.thumbBusy = true;
    const url = URL.createObjectURL(new Blob([args[0]], { type: "image/jpeg" }));
    const next = new Image();
    next.id = "thumb";
    next.alt = "the output";
    next.onload = () => {
      document.getElementById("thumb").replaceWith(next);
      if (state.thumbUrl) URL.revokeObjectURL(state.thumbUrl);
      state.thumbUrl = url;
      state.thumbBusy = false;
    };
    next.onerror = () => {
      URL.revokeObjectURL(url);
      state.thumbBusy = false;
    };
    next.src = url;
    return;
  }
  const w = state.widgets.get(address);
  if (w && !state.held.has(address)) {
    if (w.input.type === "checkbox") w.input.checked = !!args[0];
    else w.input.value = args[0];
    if (w.output && typeof args[0] === "number") w.output.textContent = shown(args[0], w.node);
  }
  const cut = address.lastIndexOf("/");
  const plot = state.plots.get(address.slice(0, cut));
  if (plot) {
    const key = address.slice(cut + 1);
    if (key === "stage") plot.stage = args[0];
    else if (plot.history[key]) {
      const h = plot.history[key];
      h.push(args[0]);
      if (h.length > HISTORY) h.shift();
      if (key === "heart") plot.heart = args[0];
      plot.samples++;
      plot.box.dataset.samples = String(plot.samples);
    }
  }
}

function draw() {
  for (const [path, p] of state.plots) {
    p.head.textContent = `${path.replace("/dreamer/", "dreamer ")}   ${p.stage}   ` +
      `${p.heart ? p.heart.toFixed(0) + " bpm" : ""}`;
    const g = p.canvas.getContext("2d");
    const { width: w, height: h } = p.canvas;
    g.clearRect(0, 0, w, h);
    const line = (values, colour, lo, hi) => {
      if (values.length < 2) return;
      g.strokeStyle = colour;
      g.beginPath();
      const first = HISTORY - values.length; // the newest sample at the right edge
      values.forEach((v, i) => {
        const x = ((first + i) / (HISTORY - 1)) * w;
        const y = h - ((v - lo) / (hi - lo)) * h;
        i ? g.lineTo(x, y) : g.moveTo(x, y);
      });
      g.stroke();
    };
    BANDS.forEach((b, i) => line(p.history[b], BAND_COLOURS[i], 0, 1));
    line(p.history.breath, "#ffffff", -0.1, 1.1);
    line(p.history.heart, "#ff5050", 30, 150);
  }
  setTimeout(() => requestAnimationFrame(draw), 100);
}

function connect() {
  const status = document.getElementById("status");
  const url = `ws://${location.host}/` + (token ? `?token=${encodeURIComponent(token)}` : "");
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => { status.textContent = "live"; status.className = "status live"; reload(); };
  ws.onclose = () => {
    status.textContent = "reconnecting";
    status.className = "status";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const msg = JSON.parse(e.data);
      if (msg.COMMAND === "PATH_ADDED" || msg.COMMAND === "PATH_REMOVED") reloadSoon();
      return;
    }
    for (const [address, args] of decodePacket(new DataView(e.data), [])) received(address, args);
  };
}

connect();
draw();
