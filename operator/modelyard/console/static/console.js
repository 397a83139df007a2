// The console's only script: what a server-rendered page cannot do by itself.
// 1. On the compare page, "show only what differs" hides the rows that agree, at once, and keeps
//    the page's URL stable (the same choice without JavaScript is a link).
// 2. On a running training job's page, progress and metrics follow the job: the page's JSON twin
//    is polled, and the page reloads when the job's phase changes (to draw its curves).
"use strict";

function onlyDifferences() {
  const box = document.getElementById("only-differences");
  const table = document.getElementById("compare");
  if (!box || !table) return;
  box.addEventListener("change", () => {
    table.classList.toggle("only-differences", box.checked);
    const target = box.checked ? box.dataset.differences : box.dataset.all;
    if (target) history.replaceState(null, "", target);
  });
}

function describe(progress) {
  const parts = [];
  if (progress.step !== null && progress.step !== undefined) {
    parts.push("step " + progress.step + (progress.total ? " of " + progress.total : ""));
  }
  if (progress.percent !== null && progress.percent !== undefined) parts.push("(" + Math.round(progress.percent) + "%)");
  if (progress.etaSeconds !== null && progress.etaSeconds !== undefined) parts.push("about " + Math.round(progress.etaSeconds) + " s left");
  let text = parts.join(" ");
  if (progress.message) text += ": " + progress.message;
  return text;
}

function followTraining() {
  const section = document.getElementById("training");
  if (!section || !section.dataset.poll) return;
  const every = Math.max(1, Number(section.dataset.poll)) * 1000;
  const shownPhase = section.dataset.phase;
  async function poll() {
    let data;
    try {
      const reply = await fetch(location.pathname, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!reply.ok) throw new Error(String(reply.status));
      data = await reply.json();
    } catch (error) {
      setTimeout(poll, every * 2);
      return;
    }
    if (data.training.phase !== shownPhase) {
      location.reload();
      return;
    }
    const bar = document.getElementById("progress");
    if (bar && data.progress.percent !== null && data.progress.percent !== undefined) bar.value = data.progress.percent;
    const text = document.getElementById("progress-text");
    if (text) text.textContent = describe(data.progress);
    const message = document.getElementById("message");
    if (message) message.textContent = data.training.message;
    for (const metric of data.metrics) {
      const row = document.querySelector('tr[data-metric="' + CSS.escape(metric.name) + '"] .latest');
      if (row && metric.latest !== null) row.textContent = Number(metric.latest).toPrecision(4).replace(/\.?0+$/, "");
    }
    section.dataset.polled = String(Number(section.dataset.polled || 0) + 1);
    setTimeout(poll, every);
  }
  setTimeout(poll, every);
}

document.addEventListener("DOMContentLoaded", () => {
  onlyDifferences();
  followTraining();
});
