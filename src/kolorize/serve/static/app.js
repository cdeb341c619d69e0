// The page: pick or drop a photo, send it to /api/colorize, show before/after, offer a download.
// Short clips go to /api/video, which colours them in the background: the page follows the
// progress and then plays the coloured clip.
"use strict";

const ACCEPTED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"];
const VIDEOS = ["video/mp4", "video/webm", "video/quicktime"];
let maxSeconds = 30;
const $ = (id) => document.getElementById(id);
let maxBytes = 20 * 1024 * 1024;
let ticket = 0; // only the newest upload may change the page
let urls = [];

function megabytes(n) {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${Math.round(n / 1024)} KB`;
}

function say(message) {
  $("status").textContent = message;
}

function fail(message) {
  $("progress").hidden = true;
  $("drop").removeAttribute("aria-busy");
  $("drop").classList.remove("busy");
  say("");
  $("error").textContent = message;
  $("error").hidden = false;
}

function outputFormat(file) {
  return file.type === "image/jpeg" ? "jpeg" : file.type === "image/webp" ? "webp" : "png";
}

async function colorize(file) {
  const mine = ++ticket;
  $("error").hidden = true;
  $("compare").dataset.ready = "false";
  if (VIDEOS.includes(file.type)) {
    colorizeClip(file, mine);
    return;
  }
  if (!ACCEPTED.includes(file.type)) {
    fail(`Please choose a photo (JPEG, PNG, WebP, GIF or BMP) or a clip (MP4, WebM, MOV); "${file.name}" is not one.`);
    return;
  }
  if (file.size > maxBytes) {
    fail(`"${file.name}" is ${megabytes(file.size)}; the limit is ${megabytes(maxBytes)}.`);
    return;
  }
  $("drop").setAttribute("aria-busy", "true");
  $("drop").classList.add("busy");
  say(`Colorizing ${file.name}…`);
  const form = new FormData();
  form.append("photo", file);
  let response;
  try {
    response = await fetch(`/api/colorize?format=${outputFormat(file)}`, {
      method: "POST",
      body: form,
    });
  } catch (e) {
    if (mine === ticket) fail("The server could not be reached. Is `kolorize serve` running?");
    return;
  }
  if (mine !== ticket) return;
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    fail(typeof body.detail === "string" ? body.detail : `The server said ${response.status}.`);
    return;
  }
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
  $("drop").removeAttribute("aria-busy");
  $("drop").classList.remove("busy");
  say(`Done: ${file.name} in colour. Move the slider to compare.`);
}

async function colorizeClip(file, mine) {
  if (file.size > maxBytes) {
    fail(`"${file.name}" is ${megabytes(file.size)}; the limit is ${megabytes(maxBytes)}.`);
    return;
  }
  $("drop").setAttribute("aria-busy", "true");
  $("drop").classList.add("busy");
  say(`Sending ${file.name}…`);
  const form = new FormData();
  form.append("video", file);
  let job;
  try {
    const response = await fetch("/api/video", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (mine === ticket) fail(typeof body.detail === "string" ? body.detail : `The server said ${response.status}.`);
      return;
    }
    job = body.id;
  } catch (e) {
    if (mine === ticket) fail("The server could not be reached. Is `kolorize serve` running?");
    return;
  }
  const bar = $("progress");
  bar.hidden = false;
  bar.value = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (mine !== ticket) return;
    let state;
    try {
      state = await (await fetch(`/api/video/${job}`)).json();
    } catch (e) {
      fail("The server could not be reached while colouring the clip.");
      return;
    }
    if (state.state === "failed") {
      fail(state.detail || "The clip could not be colorized.");
      return;
    }
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
  $("drop").removeAttribute("aria-busy");
  $("drop").classList.remove("busy");
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
  fetch("/api/info")
    .then((r) => r.json())
    .then((info) => {
      maxBytes = info.max_bytes;
      maxSeconds = info.max_video_seconds;
      const clips = info.video ? `; clips (MP4, WebM, MOV) up to ${Math.round(maxSeconds)} s` : "";
      $("limits").textContent = `JPEG, PNG, WebP, GIF or BMP, up to ${megabytes(maxBytes)}${clips}`;
      $("model").textContent = `Model: ${info.model}.`;
    })
    .catch(() => {});
}

setup();
