// The page: pick or drop photos (and, where the server has PyAV, short clips). Each one gets
// its own card in #results: a before/after comparison and a download, or its own error that
// names the file. Photos go to /api/colorize one after another; a clip goes to /api/video,
// whose progress the card follows until it plays the coloured clip. A new choice starts a new
// batch: the old cards go, and answers still on their way for them change nothing.
//
// A photo card's comparison is two <img> in a <figure class="compare">: the colorized one on
// top, cut at the CSS variable --split. Anything drawn on the result later (colour pins, say)
// belongs in that figure, positioned in the same percentages.
"use strict";

const $ = (id) => document.getElementById(id);
const UNREACHABLE = "The server could not be reached. Is `kolorize serve` running?";
const PHOTO_KINDS = "JPEG, PNG, WebP, GIF, BMP or TIFF";
let info = null; // /api/info: limits and the accepted media types, asked for when needed
let batch = 0; // only the newest batch may change the page
let urls = []; // the newest batch's object URLs, released when the next one starts

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

// -- cards ----------------------------------------------------------------------------------

function newCard(template, file) {
  const card = $(template).content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = file.name;
  $("results").append(card);
  return card;
}

function status(card, message) {
  card.querySelector(".card-status").textContent = message;
}

function fail(card, message) {
  const error = card.querySelector(".error");
  error.textContent = message;
  error.hidden = false;
  card.querySelector(".result").hidden = true;
  const bar = card.querySelector("progress");
  if (bar) bar.hidden = true;
  status(card, "");
  card.dataset.state = "failed";
}

// Why `file` cannot be sent, in words naming it, or "" when it can.
function refusal(file, known) {
  const clip = known.video_types.includes(file.type);
  if (clip && !known.video) {
    return `"${file.name}" is a clip, and this server cannot colorize clips (it lacks PyAV).`;
  }
  const tiff = /\.tiff?$/i.test(file.name);
  if (!clip && !tiff && !known.accepted.includes(file.type)) {
    const clips = known.video ? " or a clip (MP4, WebM, MOV)" : "";
    return `Please choose a photo (${PHOTO_KINDS})${clips}; "${file.name}" is not one.`;
  }
  if (file.size > known.max_bytes) {
    return `"${file.name}" is ${megabytes(file.size)}; the limit is ${megabytes(known.max_bytes)}.`;
  }
  return "";
}

// POST `file` as the form field `field`: the response if it is ok and `mine` is still the
// newest batch, else null (having said why on the card, if it is).
async function post(url, field, file, card, mine) {
  const form = new FormData();
  form.append(field, file);
  let response;
  try {
    response = await fetch(url, { method: "POST", body: form });
  } catch (e) {
    if (mine === batch) fail(card, `"${file.name}": ${UNREACHABLE}`);
    return null;
  }
  if (response.ok) return mine === batch ? response : null;
  const why = await reason(response);
  if (mine === batch) fail(card, `"${file.name}": ${why}`);
  return null;
}

// -- photos ---------------------------------------------------------------------------------

function outputFormat(file) {
  return file.type === "image/jpeg" ? "jpeg" : file.type === "image/webp" ? "webp" : "png";
}

async function colorizePhoto(file, card, mine) {
  status(card, "Colorizing…");
  const response = await post(`/api/colorize?format=${outputFormat(file)}`, "photo", file, card, mine);
  if (!response) return;
  const blob = await response.blob();
  if (mine !== batch) return;
  const after = URL.createObjectURL(blob);
  const before = URL.createObjectURL(file);
  urls.push(after, before);
  const result = card.querySelector(".after");
  result.src = after;
  try {
    await result.decode();
  } catch (e) {
    fail(card, `"${file.name}": the colorized photo could not be shown.`);
    return;
  }
  await showOriginal(card, before, after);
  const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  const download = card.querySelector(".download");
  download.href = after;
  download.download = name ? name[1] : "colorized.png";
  card.querySelector(".dims").textContent =
    `${result.naturalWidth} × ${result.naturalHeight} px, ${megabytes(blob.size)}`;
  card.querySelector(".result").hidden = false;
  followDivider(card);
  status(card, "Done. Drag on the photo or move the slider to compare.");
  card.dataset.state = "done";
}

// The upload as the "before" side; a file the browser cannot show (TIFF) is stood in for by
// the result in gray, which has the photo's own lightness.
async function showOriginal(card, before, after) {
  const original = card.querySelector(".before");
  original.src = before;
  try {
    await original.decode();
  } catch (e) {
    original.src = after;
    original.classList.add("as-gray");
    card.querySelector(".tag-before").textContent = "Original (gray)";
    await original.decode().catch(() => {});
  }
}

// The divider follows the slider, and a press or drag on the photo itself.
function followDivider(card) {
  const figure = card.querySelector(".compare");
  const slider = card.querySelector(".slider");
  const split = (percent) => {
    figure.style.setProperty("--split", `${percent}%`);
    slider.value = percent;
  };
  const follow = (e) => {
    const box = figure.getBoundingClientRect();
    split(Math.round(Math.min(100, Math.max(0, ((e.clientX - box.left) / box.width) * 100))));
  };
  slider.addEventListener("input", () => split(slider.value));
  figure.addEventListener("pointerdown", (e) => {
    figure.setPointerCapture(e.pointerId);
    follow(e);
  });
  figure.addEventListener("pointermove", (e) => {
    if (figure.hasPointerCapture(e.pointerId)) follow(e);
  });
}

// -- clips ----------------------------------------------------------------------------------

// The clip's state, or null once it need not be followed further (having said why, if `mine`
// is still the newest batch: a newer one may have started while the answer was on its way).
async function progressOf(job, file, card, mine) {
  let response;
  let state;
  try {
    response = await fetch(`/api/video/${job}`);
    state = response.ok ? await response.json() : null;
  } catch (e) {
    if (mine === batch) fail(card, `"${file.name}": the server could not be reached.`);
    return null;
  }
  if (mine !== batch) return null;
  if (response.status === 404) {
    fail(card, `The server no longer knows "${file.name}" (was it restarted?); please send it again.`);
  } else if (!response.ok) {
    fail(card, `"${file.name}": ${await reason(response)}`);
  } else if (state.state === "failed") {
    fail(card, `"${file.name}": ${state.detail || "the clip could not be colorized."}`);
  } else {
    return state;
  }
  return null;
}

async function colorizeClip(file, card, mine) {
  status(card, "Sending…");
  const response = await post("/api/video", "video", file, card, mine);
  if (!response) return;
  const job = (await response.json().catch(() => ({}))).id;
  if (mine !== batch) return;
  const bar = card.querySelector("progress");
  bar.hidden = false;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (mine !== batch) return;
    const state = await progressOf(job, file, card, mine);
    if (!state) return;
    if (state.total) bar.value = state.done / state.total;
    status(card, `Colorizing: ${state.done} of ${state.total || "?"} frames…`);
    if (state.state === "done") break;
  }
  const url = `/api/video/${job}/result`;
  bar.hidden = true;
  card.querySelector("video").src = url;
  card.querySelector(".download").href = url;
  card.querySelector(".result").hidden = false;
  status(card, "Done, with its sound.");
  card.dataset.state = "done";
}

// -- a batch --------------------------------------------------------------------------------

async function colorizeAll(files) {
  const mine = ++batch;
  urls.forEach((u) => URL.revokeObjectURL(u));
  urls = [];
  $("results").replaceChildren();
  $("error").hidden = true;
  let known;
  try {
    known = await limits();
  } catch (e) {
    if (mine === batch) {
      $("error").textContent = UNREACHABLE;
      $("error").hidden = false;
    }
    return;
  }
  if (mine !== batch) return;
  const jobs = files.map((file) => {
    const clip = known.video_types.includes(file.type);
    return { file, clip, card: newCard(clip ? "clip-card" : "photo-card", file) };
  });
  busy(true);
  for (const [i, { file, clip, card }] of jobs.entries()) {
    if (mine !== batch) return;
    say(jobs.length > 1 ? `Colorizing ${i + 1} of ${jobs.length}: ${file.name}…` : `Colorizing ${file.name}…`);
    const refused = refusal(file, known);
    if (refused) fail(card, refused);
    else await (clip ? colorizeClip : colorizePhoto)(file, card, mine);
  }
  if (mine !== batch) return;
  busy(false);
  const done = jobs.filter((j) => j.card.dataset.state === "done").length;
  say(`Done: ${done} of ${jobs.length} in colour.`);
}

function setup() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) colorizeAll([...e.target.files]);
    e.target.value = ""; // choosing the same files again still triggers a change
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
    if (e.dataTransfer.files.length) colorizeAll([...e.dataTransfer.files]);
  });
  // a photo dropped next to the target should not replace the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  limits()
    .then((known) => {
      const seconds = Math.round(known.max_video_seconds);
      const clips = known.video ? `; clips (MP4, WebM, MOV) up to ${seconds} s` : "";
      $("drop-what").textContent = known.video ? "Drop photos or short clips here" : "Drop photos here";
      $("limits").textContent = `${PHOTO_KINDS}, up to ${megabytes(known.max_bytes)} each${clips}`;
      $("file").accept = [...known.accepted, ".tif", ".tiff", ...(known.video ? known.video_types : [])].join(",");
      $("model").textContent = `Model: ${known.model}.`;
    })
    .catch(() => {});
}

setup();
