// The web chat: sends each message to POST /api/v1/chat and shows the bot's replies as bubbles.
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("text");
const sendButton = document.getElementById("send");

// One stable id per browser, so the conversation continues across page reloads.
function senderId() {
  let id = localStorage.getItem("hotline-sender");
  if (!id) {
    id = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    localStorage.setItem("hotline-sender", id);
  }
  return id;
}

function addBubble(who, text, extraClass) {
  const row = document.createElement("div");
  row.className = "row " + who + (extraClass ? " " + extraClass : "");
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.textContent = who === "bot" ? "12345" : "我";
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  row.append(avatar, bubble);
  log.append(row);
  log.scrollTop = log.scrollHeight;
  return row;
}

function addButtons(buttons) {
  const box = document.createElement("div");
  box.className = "buttons";
  for (const b of buttons) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = b.title;
    btn.addEventListener("click", () => send(b.title, b.payload));
    box.append(btn);
  }
  log.append(box);
  log.scrollTop = log.scrollHeight;
}

async function send(shown, payload) {
  addBubble("user", shown);
  const typing = addBubble("bot", "正在输入…", "typing");
  sendButton.disabled = true;
  try {
    const resp = await fetch("/api/v1/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: senderId(), text: payload || shown, channel: "web" }),
    });
    const body = await resp.json();
    typing.remove();
    if (resp.status === 422) {
      addBubble("bot", "消息没有发出去：" + body.detail, "error");
      return;
    }
    for (const m of body.messages || []) {
      if (m.text) addBubble("bot", m.text, resp.ok ? "" : "error");
      if (m.buttons && m.buttons.length) addButtons(m.buttons);
    }
  } catch (err) {
    typing.remove();
    addBubble("bot", "网络好像断了，请检查网络后重试。", "error");
  } finally {
    sendButton.disabled = false;
    input.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});
