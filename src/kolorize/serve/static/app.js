// The page: pick or drop photos (and, where the server has PyAV, short clips). Each one gets
// its own card in #results: a before/after comparison and a download, or its own error that
// names the file. Photos go to /api/colorize one after another; a clip goes to /api/video,
// whose progress the card follows until it plays the coloured clip. A new choice starts a new
// batch: the old cards go, and answers still on their way for them change nothing.
//
// A photo card's comparison is two <img> in a <figure class="compare">: the colorized one on
// top, cut at the CSS variable --split. Colour hints (when the model takes them) are pins in
// that figure, positioned in the same percentages; see "colour hints" below.
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

async function colorizePhoto(file, card, mine, known) {
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
  if (known.hints) setupHints(card, file, mine, known, { url: after, name: download.download });
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
    if (figure.classList.contains("pinning") || e.button !== 0) return; // placing hints
    figure.setPointerCapture(e.pointerId);
    follow(e);
  });
  figure.addEventListener("pointermove", (e) => {
    if (figure.hasPointerCapture(e.pointerId)) follow(e);
  });
}

// -- colour hints ---------------------------------------------------------------------------
//
// Pins on the photo, each a point in the photo's own upright pixels and a colour. After each
// change the preview is asked for again (debounced; the answer to a request that a newer
// change overtook is dropped): the photo goes as a copy scaled down here once (PREVIEW_SIDE), with the hints
// scaled to it, so a preview costs the server little whatever the photo's size. The download
// sends the photo itself with the hints, once, at full resolution. With no hints left the
// automatic result is shown again as it was.

const PREVIEW_SIDE = 1024; // the preview copy's longer side, px
const DRAG_DELAY_MS = 200; // a preview while a pin is dragged or a colour is being chosen
const NUDGE = 0.01; // an arrow key moves a focused pin by this share of the photo (Shift: 5x)

function hex(r, g, b) {
  return "#" + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
}

// The automatic result scaled down: the preview's photo (a JPEG blob; its lightness is the
// photo's own, all the model looks at) and its pixels, for a new pin's first colour.
async function previewCopy(image) {
  const scale = Math.min(1, PREVIEW_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.95));
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  return { blob, pixels, width: canvas.width, height: canvas.height };
}

function setupHints(card, file, mine, known, auto) {
  const figure = card.querySelector(".compare");
  const shown = card.querySelector(".after");
  const list = card.querySelector(".hint-list");
  const mode = card.querySelector(".hint-mode");
  const download = card.querySelector(".download");
  const json = card.querySelector(".hints-json");
  const width = shown.naturalWidth;
  const height = shown.naturalHeight;
  const hints = []; // {x, y, color, pin, row}
  // version: of the hints, counted up by each change; busy: a preview is on its way
  const state = { version: 0, timer: 0, busy: false, again: false, preview: null, full: null };
  let copy = null; // the promise of previewCopy, made when first needed
  const stem = (auto.name || "photo").replace(/-colorized\.[a-z]+$/i, "").replace(/\.[a-z]+$/i, "");
  json.download = `${stem}-hints.json`;
  card.querySelector(".hints").hidden = false;

  const theCopy = () => (copy = copy || previewCopy(shown));
  const current = () => mine === batch && card.isConnected;
  const where = (h) => `${Math.round(h.x)}, ${Math.round(h.y)}`;
  const saying = (message) => (card.querySelector(".hint-status").textContent = message);
  const asJson = () => hints.map((h) => ({ x: Math.round(h.x), y: Math.round(h.y), color: h.color }));

  function place(h) {
    h.pin.style.setProperty("left", `${((h.x + 0.5) / width) * 100}%`);
    h.pin.style.setProperty("top", `${((h.y + 0.5) / height) * 100}%`);
    h.pin.style.setProperty("--pin", h.color);
    h.row.querySelector(".hint-where").textContent = `at ${where(h)}`;
  }

  function renumber() {
    hints.forEach((h, i) => {
      h.row.querySelector(".hint-name").textContent = `Hint ${i + 1}`;
      h.row.querySelector(".hint-remove").setAttribute("aria-label", `Remove hint ${i + 1}`);
      h.pin.setAttribute("aria-label", `Hint ${i + 1}, ${h.color}, at ${where(h)}`);
    });
    const old = json.href;
    json.href = URL.createObjectURL(new Blob([JSON.stringify(asJson(), null, 1)], { type: "application/json" }));
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    json.hidden = !hints.length;
  }

  // The photo point under a pointer event, kept inside the photo.
  function point(e) {
    const box = figure.getBoundingClientRect();
    const x = Math.floor(((e.clientX - box.left) / box.width) * width);
    const y = Math.floor(((e.clientY - box.top) / box.height) * height);
    return { x: Math.min(width - 1, Math.max(0, x)), y: Math.min(height - 1, Math.max(0, y)) };
  }

  async function add(x, y) {
    const { pixels } = await theCopy();
    if (!current()) return null;
    const px = Math.min(pixels.width - 1, Math.floor((x / width) * pixels.width));
    const py = Math.min(pixels.height - 1, Math.floor((y / height) * pixels.height));
    const at = (py * pixels.width + px) * 4;
    const data = pixels.data;
    const h = { x, y, color: hex(data[at], data[at + 1], data[at + 2]) };
    h.pin = document.createElement("button");
    h.pin.type = "button";
    h.pin.className = "pin";
    h.pin.title = "Drag to move; Enter chooses the colour; right-click or Delete removes it";
    h.row = $("hint-row").content.firstElementChild.cloneNode(true);
    const colour = h.row.querySelector(".hint-colour");
    colour.value = h.color;
    colour.addEventListener("input", () => {
      h.color = colour.value;
      place(h);
      renumber();
      changed(DRAG_DELAY_MS);
    });
    colour.addEventListener("change", () => changed(0));
    h.row.querySelector(".hint-remove").addEventListener("click", () => remove(h));
    followPin(h);
    figure.append(h.pin);
    list.append(h.row);
    hints.push(h);
    place(h);
    renumber();
    changed(0);
    return h;
  }

  function remove(h) {
    const i = hints.indexOf(h);
    if (i < 0) return;
    hints.splice(i, 1);
    h.pin.remove();
    h.row.remove();
    renumber();
    changed(0);
    const next = hints[Math.min(i, hints.length - 1)];
    (next ? next.pin : mode).focus();
  }

  function choose(h) {
    const colour = h.row.querySelector(".hint-colour");
    try {
      colour.showPicker();
    } catch (e) {
      colour.focus(); // no picker without a user's gesture: the field is next to the photo
    }
  }

  // Drag a pin (a press that does not move chooses its colour), or move it with the keys.
  function followPin(h) {
    let start = null;
    h.pin.addEventListener("pointerdown", (e) => {
      e.stopPropagation(); // neither the divider nor a new pin
      if (e.button !== 0) return;
      h.pin.setPointerCapture(e.pointerId);
      start = { x: e.clientX, y: e.clientY, moved: false };
    });
    h.pin.addEventListener("pointermove", (e) => {
      if (!start || !h.pin.hasPointerCapture(e.pointerId)) return;
      start.moved = start.moved || Math.hypot(e.clientX - start.x, e.clientY - start.y) > 3;
      if (!start.moved) return;
      Object.assign(h, point(e));
      place(h);
      changed(DRAG_DELAY_MS);
    });
    h.pin.addEventListener("pointerup", (e) => {
      if (!start) return;
      const moved = start.moved;
      start = null;
      if (moved) {
        renumber();
        changed(0);
      } else {
        choose(h);
      }
      e.stopPropagation();
    });
    h.pin.addEventListener("click", (e) => {
      e.stopPropagation();
      if (e.detail === 0) choose(h); // Enter or Space on the focused pin
    });
    h.pin.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      remove(h);
    });
    h.pin.addEventListener("keydown", (e) => {
      const share = (e.shiftKey ? 5 : 1) * NUDGE;
      const step = (side) => Math.max(1, Math.round(share * side));
      const moves = {
        ArrowLeft: [-step(width), 0], ArrowRight: [step(width), 0],
        ArrowUp: [0, -step(height)], ArrowDown: [0, step(height)],
      };
      if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        remove(h);
      } else if (moves[e.key]) {
        e.preventDefault();
        const [dx, dy] = moves[e.key];
        h.x = Math.min(width - 1, Math.max(0, h.x + dx));
        h.y = Math.min(height - 1, Math.max(0, h.y + dy));
        place(h);
        renumber();
        changed(DRAG_DELAY_MS);
      }
    });
  }

  // Something changed: a new preview in `delay` ms, or the automatic result when no hint is
  // left. A full-resolution result made for older hints no longer counts.
  function changed(delay) {
    state.version += 1;
    clearTimeout(state.timer);
    card.dataset.preview = "pending";
    if (state.full) URL.revokeObjectURL(state.full);
    state.full = null;
    download.href = hints.length ? "#" : auto.url;
    state.timer = setTimeout(refresh, delay);
  }

  // At most one preview on its way per photo: an aborted request would not stop the server's
  // work on it, so changes made meanwhile are asked for in one request when it is back, and
  // its answer, superseded, is not shown.
  async function refresh() {
    const version = state.version;
    if (!hints.length) {
      show(auto.url, version, "The automatic result: no hints.");
      return;
    }
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    try {
      await ask(version);
    } finally {
      state.busy = false;
    }
    if (state.again || version !== state.version) {
      state.again = false;
      if (current()) refresh();
    }
  }

  async function ask(version) {
    saying("Updating the preview…");
    const preview = await theCopy();
    if (version !== state.version || !current()) return;
    const sx = preview.width / width;
    const sy = preview.height / height;
    const scaled = hints.map((h) => ({ x: h.x * sx, y: h.y * sy, color: h.color }));
    const form = new FormData();
    form.append("photo", preview.blob, "preview.jpg");
    form.append("hints", JSON.stringify(scaled));
    let response;
    let blob = null;
    try {
      response = await fetch("/api/colorize?format=jpeg", { method: "POST", body: form });
      if (response.ok) blob = await response.blob();
    } catch (e) {
      response = null;
    }
    if (version !== state.version || !current()) return; // superseded
    if (!blob) {
      saying(response ? `The preview failed: ${await reason(response)}` : UNREACHABLE);
      card.dataset.preview = "failed";
      return;
    }
    const url = URL.createObjectURL(blob);
    await show(url, version, `Preview with ${hints.length} hint${hints.length > 1 ? "s" : ""}.`);
  }

  async function show(url, version, message) {
    shown.src = url;
    await shown.decode().catch(() => {});
    if (state.preview && state.preview !== url) URL.revokeObjectURL(state.preview);
    state.preview = url === auto.url ? null : url;
    if (version !== state.version || !current()) return;
    saying(message);
    card.dataset.preview = "ready";
  }

  // The download: the automatic result as it was, or the photo itself with the hints at full
  // resolution (made when first asked for, kept until the hints change).
  download.addEventListener("click", async (e) => {
    if (!hints.length || state.full) return;
    e.preventDefault();
    const version = state.version;
    saying("Colorizing the photo at full resolution with your hints…");
    const form = new FormData();
    form.append("photo", file);
    form.append("hints", JSON.stringify(asJson()));
    let response;
    try {
      response = await fetch(`/api/colorize?format=${outputFormat(file)}`, { method: "POST", body: form });
    } catch (error) {
      saying(UNREACHABLE);
      return;
    }
    if (!current()) return;
    if (!response.ok) {
      saying(`The full-resolution photo failed: ${await reason(response)}`);
      return;
    }
    const blob = await response.blob();
    if (version !== state.version || !current()) return; // the hints changed meanwhile
    state.full = URL.createObjectURL(blob);
    download.href = state.full;
    saying(`Your photo with ${hints.length} hint${hints.length > 1 ? "s" : ""}, at full resolution.`);
    download.click();
  });

  mode.addEventListener("click", () => {
    const on = mode.getAttribute("aria-pressed") !== "true";
    mode.setAttribute("aria-pressed", String(on));
    figure.classList.toggle("pinning", on);
    mode.textContent = on ? "Done adding hints" : "Add colour hints";
    if (on) {
      figure.style.setProperty("--split", "0%"); // the colour, all of it, where pins go
      card.querySelector(".slider").value = 0;
      theCopy();
    }
  });
  figure.addEventListener("pointerdown", (e) => {
    if (!figure.classList.contains("pinning") || e.button !== 0) return;
    const { x, y } = point(e);
    add(x, y).then((h) => h && h.pin.focus());
  });
  card.querySelector(".hint-centre").addEventListener("click", () => {
    add(Math.floor(width / 2), Math.floor(height / 2)).then((h) => h && h.pin.focus());
  });
  renumber();
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
    else await (clip ? colorizeClip : colorizePhoto)(file, card, mine, known);
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
