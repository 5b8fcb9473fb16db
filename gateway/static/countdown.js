// SLA countdowns on the console pages: every element with data-due (an ISO instant) shows the
// time left (剩余…) or overdue (已超期…), refreshed each half minute, as the server renders it.
"use strict";

function remaining(due, now) {
  let seconds = Math.trunc((due - now) / 1000);
  const late = seconds < 0;
  seconds = Math.abs(seconds);
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const parts = [];
  if (days) parts.push(days + "天");
  if (hours) parts.push(hours + "小时");
  if (!days) parts.push(minutes + "分钟");
  return (late ? "已超期" : "剩余") + parts.slice(0, 2).join("");
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-due]")) {
    const due = Date.parse(el.dataset.due);
    if (!Number.isNaN(due)) el.textContent = remaining(due, now);
  }
}

setInterval(tick, 30000);
