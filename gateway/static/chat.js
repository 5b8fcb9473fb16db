// The web chat: sends each message to POST /api/v1/chat and shows the bot's replies as bubbles;
// an operator's messages and the handoff's notices arrive by server-sent events
// (/api/v1/chat/{sender}/events), or by polling /messages?after=ID where EventSource is missing.
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
  // An operator's message is drawn like the bot's, marked as a person's.
  const kind = who === "operator" ? "bot operator" : who;
  row.className = "row " + kind + (extraClass ? " " + extraClass : "");
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.textContent = { bot: "12345", user: "我", operator: "人工" }[who];
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  row.append(avatar, bubble);
  log.append(row);
  log.scrollTop = log.scrollHeight;
  return row;
}

// A 回访 (satisfaction follow-up) rating's payload: the comment box's text goes with it.
const FOLLOWUP = "/回访";

function withComment(payload, comment) {
  const data = JSON.parse(payload.slice(FOLLOWUP.length));
  if (comment) data.comment = comment;
  return FOLLOWUP + JSON.stringify(data);
}

function addButtons(buttons) {
  const box = document.createElement("div");
  box.className = "buttons";
  let comment = null;
  if (buttons.some((b) => b.payload.startsWith(FOLLOWUP))) {
    comment = document.createElement("input");
    comment.className = "followup-comment";
    comment.maxLength = 500;
    comment.placeholder = "您的意见（可选）";
    box.append(comment);
  }
  for (const b of buttons) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = b.title;
    btn.addEventListener("click", () => {
      const extra = comment ? comment.value.trim() : "";
      const payload = b.payload.startsWith(FOLLOWUP) ? withComment(b.payload, extra) : b.payload;
      send(extra ? b.title + "：" + extra : b.title, payload);
    });
    box.append(btn);
  }
  log.append(box);
  log.scrollTop = log.scrollHeight;
}

// Each message has its own id, kept for its retries: a message whose answer was lost (the
// connection dropped, the server behind the balancer restarted) is sent again with the same id
// and answered once, with the first answer (docs/api.md, POST /api/v1/chat, message_id).
function newMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts (https, localhost)
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

const RETRY_DELAYS_MS = [1000, 3000];

// The reply to one message, trying again after a network error or a 502/503/504 that is not
// the chat's own answer (which has messages: the apology when the bot is down).
async function post(body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const resp = await fetch("/api/v1/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if ([502, 503, 504].includes(resp.status)) {
        const answer = await resp.clone().json().catch(() => null);
        if (!answer || !answer.messages) throw new Error("HTTP " + resp.status);
      }
      return resp;
    } catch (err) {
      if (attempt >= RETRY_DELAYS_MS.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
    }
  }
}

async function send(shown, payload) {
  addBubble("user", shown);
  const typing = addBubble("bot", "正在输入…", "typing");
  sendButton.disabled = true;
  try {
    const resp = await post({ sender: senderId(), text: payload || shown, channel: "web",
                              message_id: newMessageId() });
    const body = await resp.json();
    typing.remove();
    if (resp.status === 422) {
      addBubble("bot", "消息没有发出去：" + body.detail, "error");
      return;
    }
    if (resp.status === 429) {  // too many messages: the detail says when to try again
      addBubble("bot", body.detail, "error");
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

// What reaches the page outside its own turns: operator messages, notices, the queue place.
const AFTER_KEY = "hotline-feed-after";
let after = Number(localStorage.getItem(AFTER_KEY) || 0);
let shownState = "";

function addNotice(text) {
  const note = document.createElement("div");
  note.className = "notice handoff";
  note.textContent = text;
  log.append(note);
  log.scrollTop = log.scrollHeight;
}

function onMessage(m) {
  if (m.id <= after) return;
  after = m.id;
  localStorage.setItem(AFTER_KEY, String(after));
  if (m.author === "operator") addBubble("operator", m.text);
  else addNotice(m.text);
  if (m.buttons && m.buttons.length) addButtons(m.buttons);
}

// The place in the queue is told when the citizen joins (the bot's reply) and again whenever
// it changes while waiting.
function onState(s) {
  const key = s.state + ":" + (s.position || "");
  if (key === shownState) return;
  const wasWaiting = shownState.startsWith("waiting_human:");
  shownState = key;
  if (s.state === "waiting_human" && wasWaiting) {
    addNotice(`您现在排在第${s.position}位，预计等待约${s.expected_wait_minutes}分钟。`);
  }
}

function listen() {
  const url = `/api/v1/chat/${encodeURIComponent(senderId())}`;
  if (window.EventSource) {
    const stream = new EventSource(`${url}/events?after=${after}`);
    stream.addEventListener("message", (e) => onMessage(JSON.parse(e.data)));
    stream.addEventListener("state", (e) => onState(JSON.parse(e.data)));
    return;
  }
  setInterval(async () => {
    const resp = await fetch(`${url}/messages?after=${after}`);
    if (!resp.ok) return;
    const feed = await resp.json();
    feed.messages.forEach(onMessage);
    onState(feed);
  }, 3000);
}

listen();
