// The page: pick or drop a photo, send it to /api/colorize, show before/after, offer a download.
"use strict";

const ACCEPTED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"];
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
  if (!ACCEPTED.includes(file.type)) {
    fail(`Please choose a photo (JPEG, PNG, WebP, GIF or BMP); "${file.name}" is not one.`);
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
  $("result-section").hidden = false;
  $("compare").dataset.ready = "true";
  $("drop").removeAttribute("aria-busy");
  $("drop").classList.remove("busy");
  say(`Done: ${file.name} in colour. Move the slider to compare.`);
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
      $("limits").textContent = `JPEG, PNG, WebP, GIF or BMP, up to ${megabytes(maxBytes)}`;
      $("model").textContent = `Model: ${info.model}.`;
    })
    .catch(() => {});
}

setup();
