// The drum machine page: state, grid, transport, clips and files.
import * as api from "./api.js";
import { Mixer, drawWaveform } from "./audio.js";
import { Scheduler } from "./scheduler.js";

// Velocities of the grid characters (fastdrum.sequencer.VELOCITIES): x hit, X accent, o ghost.
const HIT = 0.7;
const ACCENT = 1.0;
const GHOST = 0.35;
const LONG_PRESS_MS = 450;
const MAX_TEST_NOTES = 2000;

// What the end-to-end tests read: every note the scheduler booked, clips and exports received.
const probe = { ready: false, notes: [], clips: {}, exports: [], errors: [] };
window.fastdrumTest = probe;

const $ = (id) => document.getElementById(id);
const state = {
  server: null,
  steps: 16,
  bpm: 120,
  swing: 0,
  bars: 4,
  voices: [], // names, in order
  tracks: {}, // voice -> velocities
  settings: {}, // voice -> {volume, pan, mute, solo, lock, temperature, epsilon, guidance}
  clips: {}, // voice -> {seed, temperature, epsilon, negative_voice, guidance, duration, sample_rate, samples}
};
let mixer = null;
let scheduler = null;
const rows = {}; // voice -> {row, cells: [], wave, name, seed}

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
  if (isError) probe.errors.push(text);
}

// -- mixing -----------------------------------------------------------------------------
function audible(voice) {
  const anySolo = state.voices.some((v) => state.settings[v].solo);
  const s = state.settings[voice];
  return !s.mute && (!anySolo || s.solo);
}

function applyMix() {
  for (const v of state.voices) {
    const s = state.settings[v];
    mixer.setVoice(v, { volume: s.volume, pan: s.pan, audible: audible(v) });
    rows[v].row.classList.toggle("silent", !audible(v));
  }
}

// -- the grid ---------------------------------------------------------------------------
function cellClass(cell, v) {
  cell.classList.toggle("on", v > 0);
  cell.classList.toggle("accent", v >= ACCENT);
  cell.classList.toggle("ghost", v > 0 && v <= GHOST);
  cell.setAttribute("aria-pressed", v > 0 ? "true" : "false");
  cell.dataset.velocity = String(v);
}

function setStep(voice, k, v) {
  state.tracks[voice][k] = v;
  cellClass(rows[voice].cells[k], v);
}

function nextVelocity(v) {
  // the second gesture: accent, then ghost, then a plain hit
  if (v >= ACCENT) return GHOST;
  if (v > 0 && v <= GHOST) return HIT;
  return ACCENT;
}

function buildCells(voice) {
  const r = rows[voice];
  r.steps.replaceChildren();
  r.cells = [];
  for (let k = 0; k < state.steps; k++) {
    const cell = document.createElement("button");
    cell.type = "button";
    cell.className = "step" + (k % 4 === 0 ? " beat" : "");
    cell.dataset.voice = voice;
    cell.dataset.step = String(k);
    cell.setAttribute("aria-label", `${voice} step ${k + 1}`);
    let pressTimer = null;
    let longPressed = false;
    cell.addEventListener("pointerdown", (e) => {
      if (e.pointerType !== "touch") return;
      longPressed = false;
      pressTimer = setTimeout(() => {
        longPressed = true;
        setStep(voice, k, nextVelocity(state.tracks[voice][k]));
      }, LONG_PRESS_MS);
    });
    const cancel = () => clearTimeout(pressTimer);
    cell.addEventListener("pointerup", cancel);
    cell.addEventListener("pointerleave", cancel);
    cell.addEventListener("click", (e) => {
      if (longPressed) {
        longPressed = false;
        return;
      }
      const v = state.tracks[voice][k];
      setStep(voice, k, e.shiftKey ? nextVelocity(v) : v > 0 ? 0 : HIT);
    });
    cell.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      if (!longPressed) setStep(voice, k, nextVelocity(state.tracks[voice][k]));
    });
    r.steps.append(cell);
    r.cells.push(cell);
    cellClass(cell, state.tracks[voice][k] || 0);
  }
  r.steps.style.setProperty("--steps", String(state.steps));
}

function control(tag, attrs, label) {
  const el = document.createElement(tag);
  Object.assign(el, attrs);
  if (label) {
    el.title = label;
    el.setAttribute("aria-label", label);
  }
  return el;
}

// A negative voice as the page names it: a voice, or a blend of voices.
function voiceName(v) {
  return typeof v === "string" ? v : Object.keys(v).join("+");
}

// The voice's default negative voice (null: none), which its guidance steers away from.
function negativeVoice(voice) {
  return state.server.voices.find((d) => d.name === voice).negative_voice;
}

function buildRow(voice) {
  const s = state.settings[voice];
  const row = document.createElement("div");
  row.className = "row";
  row.dataset.voice = voice;
  const head = document.createElement("div");
  head.className = "head";
  const name = control("button", { type: "button", className: "name", textContent: voice }, `Hear the ${voice}`);
  name.addEventListener("click", async () => {
    await mixer.resume();
    mixer.play(voice, mixer.ctx.currentTime, 1);
  });
  const mute = control("button", { type: "button", className: "toggle mute", textContent: "M" }, `Mute ${voice}`);
  const solo = control("button", { type: "button", className: "toggle solo", textContent: "S" }, `Solo ${voice}`);
  const lock = control("button", { type: "button", className: "toggle lock", textContent: "Lock" },
    `Lock the ${voice} clip`);
  for (const [btn, key] of [[mute, "mute"], [solo, "solo"], [lock, "lock"]]) {
    btn.addEventListener("click", () => {
      s[key] = !s[key];
      syncRow(voice);
      applyMix();
    });
  }
  const volume = control("input", { type: "range", min: 0, max: 1.5, step: 0.01, className: "volume" },
    `${voice} volume`);
  volume.addEventListener("input", () => { s.volume = Number(volume.value); applyMix(); });
  const pan = control("input", { type: "range", min: -1, max: 1, step: 0.05, className: "pan" }, `${voice} pan`);
  pan.addEventListener("input", () => { s.pan = Number(pan.value); applyMix(); });
  const [tempLo, tempHi] = state.server.limits.temperature; // the server's range; 0 too (argmax)
  const temp = control("input", { type: "number", min: 0, max: tempHi, step: 0.05, className: "temperature" },
    `${voice} temperature (0 is deterministic)`);
  temp.addEventListener("change", () => {
    const value = temp.value.trim() === "" ? NaN : Number(temp.value);
    if (value === 0 || (value >= tempLo && value <= tempHi)) {
      s.temperature = value;
    } else {
      status(`A temperature is 0 (deterministic) or from ${tempLo} to ${tempHi}`, true);
      temp.value = String(s.temperature);
    }
  });
  const [epsLo, epsHi] = state.server.limits.epsilon; // the server's range, its top excluded
  const eps = control("input", { type: "number", min: epsLo, max: epsHi, step: 0.001, className: "epsilon" },
    `${voice} epsilon (sampling cutoff, 0 is none)`);
  eps.addEventListener("change", () => {
    const value = eps.value.trim() === "" ? NaN : Number(eps.value);
    if (value >= epsLo && value < epsHi) {
      s.epsilon = value;
    } else {
      status(`An epsilon is at least ${epsLo} and below ${epsHi} (0 is no cutoff)`, true);
      eps.value = String(s.epsilon);
    }
  });
  const [guideLo, guideHi] = state.server.limits.guidance; // the server's range
  const negative = negativeVoice(voice); // a voice without one has no guidance: its field is off
  const guideLabel = negative === null ? `${voice} guidance (no negative voice to steer away from)`
    : `${voice} guidance away from ${voiceName(negative)} (0 is none)`;
  const guide = control("input", { type: "number", min: guideLo, max: guideHi, step: 0.1, className: "guidance",
    disabled: negative === null }, guideLabel);
  guide.addEventListener("change", () => {
    const value = guide.value.trim() === "" ? NaN : Number(guide.value);
    if (value >= guideLo && value <= guideHi) {
      s.guidance = value;
    } else {
      status(`A guidance weight is from ${guideLo} to ${guideHi} (0 is none)`, true);
      guide.value = String(s.guidance);
    }
  });
  const regen = control("button", { type: "button", className: "regen", textContent: "\u21BB" },
    `New ${voice} clip`);
  regen.addEventListener("click", () => newClip(voice, { force: true }));
  const wave = control("canvas", { className: "wave", width: 80, height: 32 }, `${voice} waveform`);
  const seed = control("input", { type: "text", inputMode: "numeric", maxLength: 10, className: "seed" },
    `${voice} seed: type one to hear that clip`);
  seed.addEventListener("change", () => {
    const value = /^[0-9]+$/.test(seed.value.trim()) ? Number(seed.value) : NaN;
    if (Number.isInteger(value) && value >= 0 && value <= state.server.limits.seed) {
      newClip(voice, { force: true, seed: value });
    } else {
      status(`A seed is an integer from 0 to ${state.server.limits.seed}`, true);
      seed.value = state.clips[voice] ? String(state.clips[voice].seed) : "";
    }
  });
  const tag = (text) => Object.assign(document.createElement("span"), { className: "tag", textContent: text });
  head.append(name, mute, solo, lock, tag("vol"), volume, tag("pan"), pan, tag("temp"), temp, tag("eps"), eps,
    tag("guide"), guide, regen, wave, tag("seed"), seed);
  const steps = document.createElement("div");
  steps.className = "steps";
  row.append(head, steps);
  rows[voice] = { row, head, steps, cells: [], wave, seed, mute, solo, lock, volume, pan, temp, eps, guide, regen };
  buildCells(voice);
  syncRow(voice);
  return row;
}

function syncRow(voice) {
  const s = state.settings[voice];
  const r = rows[voice];
  r.mute.classList.toggle("active", s.mute);
  r.solo.classList.toggle("active", s.solo);
  r.lock.classList.toggle("active", s.lock);
  r.mute.setAttribute("aria-pressed", String(s.mute));
  r.solo.setAttribute("aria-pressed", String(s.solo));
  r.lock.setAttribute("aria-pressed", String(s.lock));
  r.regen.disabled = s.lock;
  r.volume.value = String(s.volume);
  r.pan.value = String(s.pan);
  r.temp.value = String(s.temperature);
  r.eps.value = String(s.epsilon);
  r.guide.value = String(s.guidance);
}

function setSteps(n) {
  for (const v of state.voices) {
    const row = state.tracks[v];
    state.tracks[v] = Array.from({ length: n }, (_, k) => (k < row.length ? row[k] : 0));
  }
  state.steps = n;
  $("steps").value = String(n);
  for (const v of state.voices) buildCells(v);
}

// -- clips ------------------------------------------------------------------------------
async function newClip(voice, { force = false, seed = null } = {}) {
  const s = state.settings[voice];
  if (s.lock && !force) return;
  const r = rows[voice];
  r.row.classList.add("busy");
  try {
    const request = { voice, temperature: s.temperature, epsilon: s.epsilon, guidance: s.guidance };
    if (seed !== null) request.seed = seed;
    const clip = await api.regenerate(request);
    state.clips[voice] = clip;
    mixer.setClip(voice, clip.samples, clip.sample_rate);
    drawWaveform(r.wave, clip.samples);
    r.seed.value = String(clip.seed);
    let sum = 0;
    for (const x of clip.samples) sum += Math.abs(x);
    const count = (probe.clips[voice]?.count || 0) + 1;
    probe.clips[voice] = { count, seed: clip.seed, length: clip.samples.length, sum };
    let guided = ""; // a voice without a negative voice has no guidance to report
    if (negativeVoice(voice) !== null) {
      guided = `, guidance ${clip.guidance}`;
      if (clip.negative_voice !== null) guided += ` away from ${voiceName(clip.negative_voice)}`;
    }
    status(`New ${voice}: seed ${clip.seed}, temperature ${clip.temperature}, epsilon ${clip.epsilon}${guided}`);
  } catch (err) {
    status(`Could not regenerate ${voice}: ${err.message}`, true);
  } finally {
    r.row.classList.remove("busy");
  }
}

/** Run tasks two at a time (the server has a small pool; no need to queue them all there). */
async function inPairs(tasks) {
  const queue = [...tasks];
  const worker = async () => {
    while (queue.length) await queue.shift()();
  };
  await Promise.all([worker(), worker()]);
}

// -- the document the server reads (exports, pattern files) ------------------------------
function documentOf() {
  const clips = {};
  for (const [v, c] of Object.entries(state.clips)) {
    clips[v] = { seed: c.seed, temperature: c.temperature, epsilon: c.epsilon, guidance: c.guidance,
      duration: c.duration };
  }
  const voices = {};
  for (const v of state.voices) {
    voices[v] = { ...state.settings[v], ...(state.clips[v] ? { seed: state.clips[v].seed } : {}) };
  }
  return {
    format: "fastdrum-pattern", version: 1, steps: state.steps, bpm: state.bpm, swing: state.swing,
    bars: state.bars, tracks: state.tracks, voices, clips,
  };
}

async function exportAs(kind) {
  status(`Exporting ${kind}\u2026`);
  try {
    const { filename, blob } = await api.exportFile(kind, documentOf());
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    probe.exports.push({ kind, filename, size: blob.size });
    status(`Exported ${filename} (${Math.round(blob.size / 1024)} kB)`);
  } catch (err) {
    status(`Export failed: ${err.message}`, true);
  }
}

async function loadPattern(file) {
  let doc;
  try {
    doc = JSON.parse(await file.text());
  } catch (err) {
    status(`${file.name} is not JSON: ${err.message}`, true);
    return;
  }
  try {
    doc = await api.checkPattern(doc);
  } catch (err) {
    status(`Cannot load ${file.name}: ${err.message}`, true);
    return;
  }
  state.bpm = doc.bpm;
  state.swing = doc.swing;
  state.bars = doc.bars;
  const tracks = {};
  for (const v of state.voices) tracks[v] = doc.tracks[v] || new Array(doc.steps).fill(0);
  state.tracks = tracks;
  setSteps(doc.steps);
  const reseed = [];
  const defaults = Object.fromEntries(state.server.voices.map((d) => [d.name, d]));
  for (const [v, s] of Object.entries(doc.voices || {})) {
    const { seed, ...rest } = s;
    // A file saved before the page had epsilon (or guidance) made its clips at the voice's default.
    Object.assign(state.settings[v], { epsilon: defaults[v].epsilon, guidance: defaults[v].guidance }, rest);
    syncRow(v);
    const clip = state.clips[v];
    const now = state.settings[v];
    if (seed !== undefined
      && (!clip || clip.seed !== seed || clip.temperature !== now.temperature || clip.epsilon !== now.epsilon
        || clip.guidance !== now.guidance)) {
      reseed.push(() => newClip(v, { force: true, seed }));
    }
  }
  syncTransport();
  applyMix();
  await inPairs(reseed);
  status(`Loaded ${file.name}`);
}

// -- transport --------------------------------------------------------------------------
function syncTransport() {
  $("bpm").value = String(state.bpm);
  $("swing").value = String(state.swing);
  $("swing-out").textContent = `${Math.round(state.swing * 100)}%`;
  $("bars").value = String(state.bars);
}

function applyPreset(name) {
  const p = state.server.presets[name];
  if (!p) return;
  const tracks = {};
  for (const v of state.voices) tracks[v] = p.tracks[v] ? [...p.tracks[v]] : new Array(p.steps).fill(0);
  state.tracks = tracks;
  state.bpm = p.bpm;
  state.swing = p.swing;
  setSteps(p.steps);
  syncTransport();
  status(`Preset ${name}: ${p.bpm} BPM${p.swing ? `, swing ${Math.round(p.swing * 100)}%` : ""}`);
}

let playhead = [];
function showPlayhead() {
  if (!scheduler.running) return;
  const now = mixer.ctx.currentTime;
  let current = null;
  while (playhead.length && playhead[0].time <= now) current = playhead.shift();
  if (current) {
    for (const v of state.voices) {
      rows[v].cells.forEach((c, k) => c.classList.toggle("now", k === current.step));
    }
  }
  requestAnimationFrame(showPlayhead);
}

async function togglePlay() {
  const button = $("play");
  if (scheduler.running) {
    scheduler.stop();
    playhead = [];
    for (const v of state.voices) rows[v].cells.forEach((c) => c.classList.remove("now"));
    button.innerHTML = "&#9654; Play";
    button.classList.remove("playing");
    return;
  }
  await mixer.resume();
  scheduler.start();
  button.innerHTML = "&#9632; Stop";
  button.classList.add("playing");
  requestAnimationFrame(showPlayhead);
}

function numberInput(id, key, lo, hi, integer) {
  $(id).addEventListener("change", () => {
    let v = Number($(id).value);
    if (!Number.isFinite(v)) v = state[key];
    v = Math.min(hi, Math.max(lo, integer ? Math.round(v) : v));
    state[key] = v;
    syncTransport();
  });
}

function wire() {
  const lim = state.server.limits;
  for (let n = lim.steps[0]; n <= lim.steps[1]; n++) {
    $("steps").append(new Option(String(n), String(n)));
  }
  for (const name of Object.keys(state.server.presets)) $("preset").append(new Option(name, name));
  $("play").addEventListener("click", togglePlay);
  numberInput("bpm", "bpm", lim.bpm[0], lim.bpm[1], false);
  numberInput("bars", "bars", lim.bars[0], lim.bars[1], true);
  $("swing").addEventListener("input", () => {
    state.swing = Number($("swing").value);
    syncTransport();
  });
  $("steps").addEventListener("change", () => setSteps(Number($("steps").value)));
  $("preset").addEventListener("change", () => applyPreset($("preset").value));
  $("clear").addEventListener("click", () => {
    for (const v of state.voices) state.tracks[v].fill(0);
    for (const v of state.voices) buildCells(v);
  });
  $("regen-all").addEventListener("click", () => inPairs(state.voices.map((v) => () => newClip(v))));
  for (const b of document.querySelectorAll("[data-export]")) {
    b.addEventListener("click", () => exportAs(b.dataset.export));
  }
  $("load").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (file) await loadPattern(file);
    e.target.value = "";
  });
  const typing = (e) => e.target instanceof HTMLInputElement && e.target.type !== "range";
  document.addEventListener("keydown", (e) => {
    if (e.code !== "Space" || typing(e)) return;
    e.preventDefault(); // no scrolling, and no click on the focused step
    if (!e.repeat) togglePlay();
  });
  document.addEventListener("keyup", (e) => {
    if (e.code === "Space" && !typing(e)) e.preventDefault(); // a focused button would click on keyup
  });
}

async function start() {
  try {
    state.server = await api.getState();
  } catch (err) {
    status(`Cannot reach the server: ${err.message}`, true);
    return;
  }
  mixer = new Mixer();
  state.voices = state.server.voices.map((v) => v.name);
  for (const v of state.server.voices) {
    state.settings[v.name] = { volume: v.gain, pan: v.pan, mute: false, solo: false, lock: false,
      temperature: v.temperature, epsilon: v.epsilon, guidance: v.guidance };
    state.tracks[v.name] = new Array(state.steps).fill(0);
  }
  const grid = $("grid");
  for (const v of state.voices) grid.append(buildRow(v));
  scheduler = new Scheduler(
    mixer.ctx,
    () => state,
    (voice, time, velocity, step) => {
      if (!audible(voice)) return;
      if (mixer.play(voice, time, velocity)) {
        probe.notes.push({ voice, step, time, velocity });
        if (probe.notes.length > MAX_TEST_NOTES) probe.notes.shift();
      }
    },
    (step, time) => playhead.push({ step, time }),
  );
  wire();
  applyPreset("house" in state.server.presets ? "house" : Object.keys(state.server.presets)[0]);
  $("preset").value = "house";
  applyMix();
  status("Generating the first clips\u2026");
  await inPairs(state.voices.map((v) => () => newClip(v)));
  probe.ready = true;
  status(`Ready: ${state.voices.join(", ")}. Space plays and stops.`);
}

start();
