// neon-checkpoints ui: keeps the page current without a reload (short polling; no framework, no build).
"use strict";

function every(ms, tick) {
  let stopped = false;
  const loop = async () => {
    if (stopped) return;
    try { if ((await tick()) === false) { stopped = true; return; } } catch (e) { /* next tick retries */ }
    setTimeout(loop, ms);
  };
  setTimeout(loop, ms);
}

// The newest events are on the right: show them first when the picture is wider than the window.
function showLatest() {
  const picture = document.getElementById("picture");
  if (picture) picture.scrollLeft = picture.scrollWidth;
}

function pollLive(live) {
  const ms = Number(live.dataset.pollMs) || 2000;
  every(ms, async () => {
    const answer = await fetch(live.dataset.liveUrl, { credentials: "same-origin" });
    if (!answer.ok) return;
    const version = answer.headers.get("X-Version");
    if (version === live.dataset.version) return;
    const html = await answer.text();
    // Keep keyboard focus where it was across the swap.
    const focused = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : null;
    const old = document.getElementById("picture");
    const atEnd = !old || old.scrollLeft + old.clientWidth >= old.scrollWidth - 4;
    const left = old ? old.scrollLeft : 0;
    live.innerHTML = html;
    live.dataset.version = version;
    if (atEnd) showLatest(); else document.getElementById("picture").scrollLeft = left;
    if (focused) { const again = document.getElementById(focused); if (again) again.focus(); }
  });
}

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

function pollProgress(box) {
  if (box.dataset.done === "true") return;
  const ms = Number(box.dataset.pollMs) || 2000;
  every(Math.min(ms, 1000), async () => {
    const answer = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    if (!answer.ok) return;
    const p = await answer.json();
    const phase = document.getElementById("phase");
    phase.textContent = p.phase;
    phase.className = "badge phase-" + p.css;
    document.getElementById("message").textContent = p.message;
    const rows = document.getElementById("conditions");
    rows.replaceChildren(...p.conditions.map((c) => {
      const tr = document.createElement("tr");
      tr.append(cell(c.type), cell(c.status), cell(c.reason), cell(c.message));
      return tr;
    }));
    if (p.done) {
      box.dataset.done = "true";
      document.getElementById("waiting").hidden = true;
      return false;
    }
  });
}

// A data diff runs in the ui process; its page shows the server-rendered progress, then the result.
function pollDataDiff(box) {
  if (box.dataset.done === "true") return;
  const ms = Number(box.dataset.pollMs) || 2000;
  every(Math.min(ms, 1000), async () => {
    const answer = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    if (!answer.ok) return;
    const p = await answer.json();
    box.innerHTML = p.html;
    if (p.done) {
      box.dataset.done = "true";
      return false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) { showLatest(); pollLive(live); }
  const box = document.getElementById("progress");
  if (box) pollProgress(box);
  const data = document.getElementById("data-diff");
  if (data) pollDataDiff(data);
});
