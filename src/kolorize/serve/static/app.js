// The page: pick or drop a photo, send it to /api/colorize, show before/after, offer a download.
// Short clips go to /api/video, which colours them in the background: the page follows the
// progress and then plays the coloured clip.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null; // /api/info: limits and the accepted media types, asked for when needed
let ticket = 0; // only the newest upload may change the page
let urls = [];

function megabytes(n) {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${Math.round(n / 1024)} KB`;
}

function say(message) {
  $("status").textContent = message;
}

function busy(on) {
  $("drop").classList.toggle("busy", on);
  if (on) $("drop").setAttribute("aria-busy", "true");
  else $("drop").removeAttribute("aria-busy");
}

function fail(message) {
  $("progress").hidden = true;
  busy(false);
  say("");
  $("error").textContent = message;
  $("error").hidden = false;
}

function limits() {
  // a failed ask is asked again next time: the server may be back
  info = info || fetch("/api/info").then((r) => (r.ok ? r.json() : Promise.reject(r)));
  return info.catch((e) => {
    info = null;
    throw e;
  });
}

async function reason(response) {
  const body = await response.json().catch(() => ({}));
  return typeof body.detail === "string" ? body.detail : `The server said ${response.status}.`;
}

const UNREACHABLE = "The server could not be reached. Is `kolorize serve` running?";

// POST `file` as the form field `field`: the response if it is ok and upload `mine` is still
// the newest, else null (having said why, if it is).
async function post(url, field, file, mine) {
  const form = new FormData();
  form.append(field, file);
  let response;
  try {
    response = await fetch(url, { method: "POST", body: form });
  } catch (e) {
    if (mine === ticket) fail(UNREACHABLE);
    return null;
  }
  if (response.ok) return mine === ticket ? response : null;
  const why = await reason(response);
  if (mine === ticket) fail(why);
  return null;
}

function outputFormat(file) {
  return file.type === "image/jpeg" ? "jpeg" : file.type === "image/webp" ? "webp" : "png";
}

async function colorize(file) {
  const mine = ++ticket;
  $("error").hidden = true;
  $("compare").dataset.ready = "false";
  let known;
  try {
    known = await limits();
  } catch (e) {
    if (mine === ticket) fail(UNREACHABLE);
    return;
  }
  if (mine !== ticket) return;
  const clip = known.video_types.includes(file.type);
  if (!clip && !known.accepted.includes(file.type)) {
    fail(`Please choose a photo (JPEG, PNG, WebP, GIF or BMP) or a clip (MP4, WebM, MOV); "${file.name}" is not one.`);
    return;
  }
  if (file.size > known.max_bytes) {
    fail(`"${file.name}" is ${megabytes(file.size)}; the limit is ${megabytes(known.max_bytes)}.`);
    return;
  }
  busy(true);
  if (clip) {
    colorizeClip(file, mine);
    return;
  }
  say(`Colorizing ${file.name}…`);
  const response = await post(`/api/colorize?format=${outputFormat(file)}`, "photo", file, mine);
  if (!response) return;
  const blob = await response.blob();
  if (mine !== ticket) return;
  show(file, blob, response);
}

async function show(file, blob, response) {
  urls.forEach((u) => URL.revokeObjectURL(u));
  const before = URL.createObjectURL(file);
  const after = URL.createObjectURL(blob);
  urls = [before, after];
  const result = $("result");
  $("original").src = before;
  result.src = after;
  try {
    await Promise.all([result.decode(), $("original").decode()]);
  } catch (e) {
    fail("The colorized photo could not be shown.");
    return;
  }
  const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  const download = $("download");
  download.href = after;
  download.download = name ? name[1] : "colorized.png";
  $("dims").textContent = `${result.naturalWidth} × ${result.naturalHeight} px, ${megabytes(blob.size)}`;
  $("video-section").hidden = true;
  $("result-section").hidden = false;
  $("compare").dataset.ready = "true";
  busy(false);
  say(`Done: ${file.name} in colour. Move the slider to compare.`);
}

// The clip's state, or null once it need not be followed further (having said why, if `mine`
// is still the newest upload: a newer one may have started while the answer was on its way).
async function progressOf(job, mine) {
  let response;
  let state;
  try {
    response = await fetch(`/api/video/${job}`);
    state = response.ok ? await response.json() : null;
  } catch (e) {
    if (mine === ticket) fail("The server could not be reached while colouring the clip.");
    return null;
  }
  if (mine !== ticket) return null;
  if (response.status === 404) {
    fail("The server no longer knows this clip (was it restarted?); please send it again.");
  } else if (!response.ok) {
    const why = await reason(response);
    if (mine === ticket) fail(why);
  } else if (state.state === "failed") {
    fail(state.detail || "The clip could not be colorized.");
  } else {
    return state;
  }
  return null;
}

async function colorizeClip(file, mine) {
  say(`Sending ${file.name}…`);
  const response = await post("/api/video", "video", file, mine);
  if (!response) return;
  const job = (await response.json().catch(() => ({}))).id;
  if (mine !== ticket) return;
  const bar = $("progress");
  bar.hidden = false;
  bar.value = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (mine !== ticket) return;
    const state = await progressOf(job, mine);
    if (!state) return;
    if (state.total) bar.value = state.done / state.total;
    say(`Colorizing ${file.name}: ${state.done} of ${state.total || "?"} frames…`);
    if (state.state === "done") break;
  }
  const url = `/api/video/${job}/result`;
  bar.hidden = true;
  $("result-section").hidden = true;
  $("video-result").src = url;
  $("video-download").href = url;
  $("video-section").hidden = false;
  busy(false);
  say(`Done: ${file.name} in colour, with its sound.`);
}

function setup() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) colorize(e.target.files[0]);
    e.target.value = ""; // choosing the same file again still triggers a change
  });
  ["dragenter", "dragover"].forEach((kind) =>
    drop.addEventListener(kind, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((kind) =>
    drop.addEventListener(kind, () => drop.classList.remove("over")),
  );
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) colorize(file);
  });
  // a photo dropped next to the target should not replace the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  $("slider").addEventListener("input", (e) => {
    $("compare").style.setProperty("--split", `${e.target.value}%`);
  });
  limits()
    .then((known) => {
      const seconds = Math.round(known.max_video_seconds);
      const clips = known.video ? `; clips (MP4, WebM, MOV) up to ${seconds} s` : "";
      $("limits").textContent = `JPEG, PNG, WebP, GIF or BMP, up to ${megabytes(known.max_bytes)}${clips}`;
      $("file").accept = [...known.accepted, ...known.video_types].join(",");
      $("model").textContent = `Model: ${known.model}.`;
    })
    .catch(() => {});
}

setup();
