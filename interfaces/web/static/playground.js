// The Playground's behaviour: live fragments, uploads with progress, consent recording and
// streaming synthesis. Plain JavaScript, no build step; the pages work as forms without it.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf() };
  if (body !== undefined && !(body instanceof FormData)) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body) });
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new Error((data && data.detail) || `${r.status} ${r.statusText}`);
  return data;
}

// ---- live fragments: [data-live] is replaced by its URL's HTML while its root says data-active
async function refresh(region) {
  const r = await fetch(region.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (r.redirected || !r.ok) return;
  const html = await r.text();
  if (html !== region.dataset.last) {
    region.dataset.last = html;
    region.innerHTML = html;
  }
}

function watch(region) {
  const every = Number(region.dataset.every || 2000);
  const tick = async () => {
    try { await refresh(region); } catch (e) { /* the server is restarting: try again */ }
    schedule();
  };
  const schedule = () => {
    const root = region.querySelector("[data-live-root]");
    if (root && root.hasAttribute("data-active")) setTimeout(tick, every);
    else if (region.dataset.idle) setTimeout(tick, Number(region.dataset.idle));
  };
  schedule();
}

// ---- tabs on the new PVC form
function tabs(form) {
  form.querySelectorAll('[role="tab"]').forEach((tab) => tab.addEventListener("click", () => {
    form.querySelectorAll('[role="tab"]').forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    });
    form.elements.source.value = tab.dataset.tab;
  }));
}

// ---- uploads: one request per file, each with its own progress bar
function extension(name) {
  const i = name.lastIndexOf(".");
  return i < 0 ? "" : name.slice(i + 1).toLowerCase();
}

function uploader(box) {
  const input = box.querySelector('input[type="file"]');
  const list = box.querySelector("[data-upload-list]");
  const formats = new Set(box.dataset.formats.split(","));
  box.files = [];
  const add = (files) => {
    for (const file of files) {
      const li = document.createElement("li");
      const ok = formats.has(extension(file.name));
      li.innerHTML = `<span class="name"></span> <progress max="100" value="0"></progress> <span class="state small"></span>`;
      li.querySelector(".name").textContent = file.name;
      li.dataset.name = file.name;
      const state = li.querySelector(".state");
      if (!ok) {
        li.classList.add("refused");
        li.querySelector("progress").style.visibility = "hidden";
        state.textContent = `refused before upload: .${extension(file.name) || "(no extension)"} is not an accepted format`;
      } else {
        state.textContent = `${(file.size / 1048576).toFixed(1)} MiB, waiting`;
        box.files.push({ file, li });
      }
      list.appendChild(li);
    }
    if (box.dataset.dataset) uploadAll(box, box.dataset.dataset);
  };
  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  const drop = box.querySelector("[data-drop]");
  ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (ev) => { ev.preventDefault(); add(ev.dataTransfer.files); });
}

function uploadOne(datasetId, item) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const bar = item.li.querySelector("progress");
    const state = item.li.querySelector(".state");
    xhr.open("POST", `/datasets/${encodeURIComponent(datasetId)}/files?keep_unsupported=true`);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { bar.value = (100 * e.loaded) / e.total; state.textContent = `uploading ${Math.round(bar.value)}%`; }
    };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      bar.value = 100;
      if (xhr.status === 201 && data) {
        const f = data.files[0];
        item.li.classList.add(f.status);
        state.textContent = f.status === "rejected" ? `rejected: ${f.reason}` : "uploaded, waiting to be prepared";
      } else {
        item.li.classList.add("rejected");
        state.textContent = `refused: ${(data && data.detail) || xhr.statusText}`;
      }
      resolve(xhr.status === 201);
    };
    xhr.onerror = () => { item.li.classList.add("rejected"); state.textContent = "upload failed: connection lost"; resolve(false); };
    const body = new FormData();
    body.append("files", item.file, item.file.name);
    xhr.send(body);
  });
}

async function uploadAll(box, datasetId) {
  const todo = box.files.splice(0);
  let stored = 0;
  for (const item of todo) if (await uploadOne(datasetId, item)) stored += 1;
  const live = document.querySelector("[data-live]");
  if (box.dataset.dataset && live) await refresh(live);
  return stored;
}

// ---- the new PVC form: upload into a new dataset first, then create the draft
function newPvc(form) {
  tabs(form);
  const error = form.querySelector("[data-form-error]");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const fail = (msg) => { error.textContent = msg; error.hidden = false; };
    if (!form.elements.name.value.trim()) return fail("Give the voice clone a name.");
    if (form.elements.source.value === "upload") {
      const box = form.querySelector("[data-uploader]");
      if (!box.files.length) return fail("Choose audio files to upload, or select an existing dataset.");
      form.querySelector('button[type="submit"]').disabled = true;
      try {
        const ds = await api("POST", "/datasets", { name: form.elements.name.value.trim() });
        const stored = await uploadAll(box, ds.id);
        if (!stored) { form.querySelector('button[type="submit"]').disabled = false; return fail("No file could be stored; see the reasons above."); }
        form.elements.dataset_id.value = ds.id;
      } catch (e) {
        form.querySelector('button[type="submit"]').disabled = false;
        return fail(e.message);
      }
    }
    form.submit();
  });
}

// ---- consent: record with the microphone or pick a file, then send it to the API
function consent(box) {
  let recorder = null;
  let chunks = [];
  let recorded = null;
  const state = box.querySelector("[data-record-state]");
  const player = box.querySelector("[data-recorded]");
  const result = box.querySelector("[data-consent-result]");
  box.querySelector("[data-record]").addEventListener("click", async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      recorder = new MediaRecorder(stream);
      chunks = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        recorded = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        player.src = URL.createObjectURL(recorded);
        player.hidden = false;
        state.textContent = "recorded: listen, then submit";
      };
      recorder.start();
      state.textContent = "recording… read the statement aloud";
      box.querySelector("[data-stop]").disabled = false;
    } catch (e) {
      state.textContent = `the microphone is not available (${e.message}): upload a recording instead`;
    }
  });
  box.querySelector("[data-stop]").addEventListener("click", () => {
    if (recorder && recorder.state === "recording") recorder.stop();
    box.querySelector("[data-stop]").disabled = true;
  });
  box.querySelector("[data-submit-consent]").addEventListener("click", async () => {
    const file = box.querySelector('input[type="file"]').files[0];
    const body = new FormData();
    if (file) body.append("file", file, file.name);
    else if (recorded) body.append("file", recorded, recorded.type.includes("ogg") ? "consent.ogg" : "consent.webm");
    else { result.textContent = "Record the statement or choose a recording first."; return; }
    result.textContent = "Checking the recording (words and voice)…";
    try {
      const r = await api("POST", `/fine-tunes/${box.dataset.pvc}/consent`, body);
      result.innerHTML = "";
      const p = document.createElement("p");
      p.className = r.verified ? "alert ok" : "alert error";
      p.textContent = r.verified
        ? `Consent verified. Heard: “${r.transcript}”.`
        : `Not verified: ${r.reason}. ${r.attempts_left} attempt(s) left.`;
      result.appendChild(p);
      if (r.verified) setTimeout(() => location.reload(), 800);
    } catch (e) {
      result.textContent = `Refused: ${e.message}`;
    }
  });
}

// ---- synthesis: stream the WAV, play each sentence as it arrives, then offer the whole file
function wavFile(pcm, rate) {
  const header = new DataView(new ArrayBuffer(44));
  const write = (o, s) => [...s].forEach((c, i) => header.setUint8(o + i, c.charCodeAt(0)));
  write(0, "RIFF"); header.setUint32(4, 36 + pcm.byteLength, true); write(8, "WAVE"); write(12, "fmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); write(36, "data"); header.setUint32(40, pcm.byteLength, true);
  return new Blob([header, pcm], { type: "audio/wav" });
}

function tts(form) {
  const cost = form.querySelector("[data-tts-cost]");
  const state = form.querySelector("[data-tts-state]");
  const audio = form.querySelector("[data-tts-audio]");
  const link = form.querySelector("[data-tts-download]");
  const rate = Number(form.dataset.rate);
  const showCost = () => {
    const n = [...form.elements.text.value.normalize("NFC")].length;
    cost.textContent = `${n} characters: ${(n * rate).toLocaleString()} credits at ${rate} a character`;
  };
  form.elements.text.addEventListener("input", showCost);
  showCost();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    state.textContent = "synthesising…";
    let ctx = null;
    try {
      const before = await api("GET", "/credits/balance");
      const r = await fetch("/tts", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ model_id: form.dataset.model, voice_id: form.elements.voice_id.value,
          text: form.elements.text.value, speed: Number(form.elements.speed.value), stream: true }) });
      if (!r.ok) throw new Error((await r.json()).detail);
      const sampleRate = Number(r.headers.get("X-Sample-Rate"));
      try { ctx = new AudioContext({ sampleRate }); } catch (e) { ctx = null; }
      let at = ctx ? ctx.currentTime + 0.05 : 0;
      const reader = r.body.getReader();
      const parts = [];
      let pending = new Uint8Array(0);
      let skipped = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let bytes = value;
        if (skipped < 44) { const skip = Math.min(44 - skipped, bytes.length); skipped += skip; bytes = bytes.subarray(skip); }
        const joined = new Uint8Array(pending.length + bytes.length);
        joined.set(pending); joined.set(bytes, pending.length);
        const even = joined.length - (joined.length % 2);
        pending = joined.slice(even);
        if (!even) continue;
        const chunk = joined.slice(0, even);
        parts.push(chunk);
        state.textContent = "playing as it arrives…";
        if (ctx) {
          const samples = new Int16Array(chunk.buffer);
          const buffer = ctx.createBuffer(1, samples.length, sampleRate);
          const channel = buffer.getChannelData(0);
          for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
          const source = ctx.createBufferSource();
          source.buffer = buffer; source.connect(ctx.destination);
          at = Math.max(at, ctx.currentTime); source.start(at); at += buffer.duration;
        }
      }
      const pcm = new Blob(parts);
      const wav = wavFile(await pcm.arrayBuffer(), sampleRate);
      const url = URL.createObjectURL(wav);
      audio.src = url; audio.hidden = false;
      link.href = url; link.hidden = false;
      const after = await api("GET", "/credits/balance");
      state.textContent = `done: charged ${(before.balance - after.balance).toLocaleString()} credits; ${after.available.toLocaleString()} available`;
    } catch (e) {
      state.textContent = `refused: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  });
}

// Forms inside live fragments are bound when they appear.
const origin = (el) => { el.textContent = location.origin; };
const BINDERS = [["[data-uploader]", uploader], ["[data-new-pvc]", newPvc], ["[data-consent]", consent], ["[data-tts]", tts],
  ["[data-origin]", origin]];

function bind(root) {
  for (const [selector, fn] of BINDERS) {
    root.querySelectorAll(selector).forEach((el) => {
      if (el.dataset.bound) return;
      el.dataset.bound = "1";
      fn(el);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  bind(document);
  document.querySelectorAll("[data-live]").forEach(watch);
  new MutationObserver(() => bind(document)).observe(document.body, { childList: true, subtree: true });
});
