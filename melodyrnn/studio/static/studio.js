// melodyrnn studio: the form, the tune shown, and the list of tunes written.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { current: null, opening: null, moreBars: 8 };  // opening: {kind: "file"|"tune", id, label}

function showError(field, message) {
  const slot = document.querySelector(`.error[data-for="${field || ""}"]`) || $("general-error");
  slot.textContent = message;
  const control = field && (document.getElementsByName(field)[0] ||
    (field === "primer_file" && $("primer-file")) || (field === "key" && $("tonic")));
  if (control) { control.classList.add("bad"); control.focus(); }
}

function clearErrors() {
  document.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll(".bad").forEach((e) => e.classList.remove("bad"));
}

function settings() {
  const value = (id) => $(id).value.trim();
  const form = {
    model: value("model"), meter: value("meter"),
    key: value("tonic") ? `${value("tonic")}:${value("mode")}` : "",
    temperature: value("temperature"), top_k: value("top_k"), top_p: value("top_p"),
    bars: value("bars"), qpm: value("qpm"), beam: value("beam"), seed: value("seed"),
  };
  if (state.opening && state.opening.kind === "tune") form.primer_tune = state.opening.id;
  else if (state.opening) form.primer_file = state.opening.id;
  else form.primer = value("primer");
  return form;
}

async function answer(response) {
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = (body && body.error) || `the studio answered ${response.status}`;
    throw Object.assign(new Error(message), { field: body && body.field });
  }
  return body;
}

async function generate() {
  clearErrors();
  $("generate").disabled = true;
  $("status").textContent = "Writing a tune…";
  try {
    const tune = await answer(await fetch("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(settings()),
    }));
    $("seed").value = tune.seed;
    await show(tune);
    addToHistory(tune);
  } catch (error) {
    showError(error.field, error.message);
    $("status").textContent = state.current ? "" : "No tune yet.";
  } finally {
    $("generate").disabled = false;
  }
}

async function show(tune) {
  state.current = tune;
  $("seed").value = tune.seed;  // "again" and a new tune go on from the one shown
  const score = await fetch(tune.files.svg);
  $("score").innerHTML = score.ok ? await score.text() : "";
  $("tune-title").textContent = `Tune ${tune.number}: ${tune.name}`;
  const key = tune.key ? `${tune.key.replace(":", " ")}, ` : "";
  $("tune-facts").textContent = `${tune.meter}, ${key}${tune.bars} bars, ${tune.notes} notes, ` +
    `${tune.seconds} s` + (tune.primer ? ` · opening: ${tune.primer}` : "") +
    ` · ${tune.model}`;
  $("player").src = tune.files.wav;
  document.querySelectorAll(".downloads a").forEach((a) => {
    a.href = `${tune.files[a.dataset.format]}?download`;
    a.setAttribute("download", `${tune.name}.${a.dataset.format}`);
  });
  $("status").textContent = "";
  $("result").hidden = false;
  document.querySelectorAll("#history li").forEach((li) =>
    li.classList.toggle("current", li.dataset.id === tune.id));
}

function addToHistory(tune) {
  const li = document.createElement("li");
  li.dataset.id = tune.id;
  const button = document.createElement("button");
  button.type = "button";
  const key = tune.key ? ` ${tune.key.replace(":", " ")}` : "";
  button.textContent = `Tune ${tune.number}: ${tune.meter}${key}, ${tune.bars} bars, ` +
    `seed ${tune.seed}`;
  button.addEventListener("click", async () => {
    const again = await answer(await fetch(`/api/tunes/${tune.id}`)).catch((e) => {
      showError(null, e.message); return null;
    });
    if (again) show(again);
  });
  li.appendChild(button);
  $("history").prepend(li);
  $("no-history").hidden = true;
  show(tune);
}

function setOpening(opening) {
  state.opening = opening;
  $("opening").hidden = !opening;
  $("opening").querySelector("span").textContent = opening ? opening.label : "";
  $("primer").disabled = Boolean(opening);
  if (!opening) $("primer-file").value = "";
}

async function upload(file) {
  clearErrors();
  try {
    const sent = await answer(await fetch(`/api/primers?name=${encodeURIComponent(file.name)}`,
      { method: "POST", body: file }));
    setOpening({ kind: "file", id: sent.id, label: `opening from ${sent.name}` });
  } catch (error) {
    $("primer-file").value = "";
    showError(error.field || "primer_file", error.message);
  }
}

async function loadModels() {
  const models = await answer(await fetch("/api/models"));
  for (const model of models.models) {
    const option = new Option(model.label, model.id, model.default, model.default);
    $("model").add(option);
  }
  if (models.synth) $("status").textContent += ` (Audio: ${models.synth}.)`;
}

$("settings").addEventListener("submit", (event) => { event.preventDefault(); generate(); });
$("settings").addEventListener("input", (event) => {
  event.target.classList.remove("bad");
});
$("primer-file").addEventListener("change", (event) => {
  if (event.target.files.length) upload(event.target.files[0]);
});
$("clear-opening").addEventListener("click", () => setOpening(null));
$("again").addEventListener("click", () => {
  const seed = state.current ? Number(state.current.seed) + 1 : 0;
  $("seed").value = seed;
  generate();
});
$("continue").addEventListener("click", () => {
  const tune = state.current;
  if (!tune) return;
  // the length counts the whole tune, its opening included: the new bars come after it
  if (!state.opening || state.opening.kind !== "tune") {
    state.moreBars = Number($("bars").value) || 8;  // bars added at each continuation
  }
  $("bars").value = Math.ceil(tune.bars) + state.moreBars;
  $("seed").value = "";
  setOpening({ kind: "tune", id: tune.id, label: `continuing tune ${tune.number}` });
  generate();
});
loadModels().catch((error) => showError(null, error.message));
