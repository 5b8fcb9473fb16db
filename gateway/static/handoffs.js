// 人工服务 console: the queue, my conversations, one conversation with a reply box and agent
// assist. Data from /api/v1/handoffs (session cookie + CSRF header); live through the
// server-sent events of /api/v1/handoffs/events, which say "changed" and the page refetches.
"use strict";

const main = document.querySelector("main.handoffs");
const csrf = main.dataset.csrf;
const me = main.dataset.me;
const $ = (id) => document.getElementById(id);
const CHANNELS = { web: "网页", wechat: "微信", voice: "电话", api: "接口" };
const AUTHORS = { citizen: "市民", bot: "智能客服", operator: "话务员", notice: "系统" };
let current = null; // the open handoff's id
let stream = null;

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (resp.status === 401) { location.href = "/login?next=/console/handoffs"; }
  const data = await resp.json().catch(() => ({}));
  return { ok: resp.ok, status: resp.status, data };
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function minutes(seconds) {
  return seconds < 60 ? seconds + "秒" : Math.floor(seconds / 60) + "分" + (seconds % 60) + "秒";
}

function item(h) {
  const li = el("li", h.id === current ? "current" : "");
  li.dataset.id = h.id;
  li.append(el("div", "line", h.summary.line || h.conversation_id));
  const meta = h.status === "pending"
    ? `第${h.position}位 · 已等待${minutes(h.waiting_seconds)}`
    : `${CHANNELS[h.channel] || h.channel} · 接入前等待${minutes(h.waiting_seconds)}`;
  li.append(el("div", "meta", meta));
  if (h.status === "pending") {
    const take = el("button", "take", "接入");
    take.type = "button";
    take.addEventListener("click", (e) => { e.stopPropagation(); act(h.id, "accept"); });
    li.append(take);
  }
  li.addEventListener("click", () => openConversation(h.id));
  return li;
}

async function refreshLists() {
  const [pending, mine] = await Promise.all([
    api("GET", "/api/v1/handoffs?status=pending"),
    api("GET", "/api/v1/handoffs?status=active&mine=true"),
  ]);
  if (!pending.ok || !mine.ok) return;
  $("queue").replaceChildren(...pending.data.items.map(item));
  $("mine").replaceChildren(...mine.data.items.map(item));
  $("pending-count").textContent = pending.data.items.length;
  $("mine-count").textContent = mine.data.items.length;
  $("operators").textContent = `在线坐席：${pending.data.available_operators}人`;
  showPresence(pending.data.my_status);
}

function showPresence(status) {
  const button = $("presence");
  button.dataset.status = status;
  button.textContent = status === "available" ? "在线" : "离开";
  button.title = status === "available" ? "点击设为离开" : "点击设为在线";
}

function showSummary(h) {
  const s = h.summary || {};
  const box = $("summary");
  box.replaceChildren();
  const dl = el("dl");
  const add = (label, value) => {
    if (!value) return;
    dl.append(el("dt", "", label), el("dd", "", value));
  };
  add("渠道", CHANNELS[h.channel] || h.channel);
  add("原因", (s.line || "").split(" · ")[1]);
  add("诉求", s.wants);
  add("已答", (s.kb_hits || []).join("、"));
  add("工单草稿", Object.entries(s.order_draft || {}).map(([k, v]) => k + "：" + v).join("，"));
  if (s.order_number) { // the linked order: corrected on its own page, in a new tab
    const dd = el("dd", "", s.order_number + " ");
    const edit = el("a", "", "编辑工单");
    edit.id = "edit-order";
    edit.href = `/console/orders/${encodeURIComponent(s.order_number)}/edit`;
    edit.target = "_blank";
    edit.rel = "noopener";
    dd.append(edit);
    dl.append(el("dt", "", "工单号"), dd);
  }
  add("电话", s.phone);
  add("状态", { pending: "排队中", active: "服务中 · " + (h.operator || ""), closed: "已结束" }[h.status]);
  box.append(dl);
}

async function openConversation(id) {
  const changed = current !== id;
  current = id;
  const resp = await api("GET", `/api/v1/handoffs/${id}`);
  if (!resp.ok) return;
  const { handoff, transcript, assist, assist_for, draft } = resp.data;
  if (changed) fillOrder(draft || {}, handoff);
  $("nothing").hidden = true;
  $("conversation").hidden = false;
  $("assist-box").hidden = false;
  showSummary(handoff);
  const log = $("transcript");
  log.replaceChildren(...transcript.map((line) => {
    const row = el("div", "msg " + line.author);
    row.append(el("span", "who", AUTHORS[line.author]), document.createTextNode(line.text));
    return row;
  }));
  log.scrollTop = log.scrollHeight;
  const mine = handoff.status === "active" && handoff.operator === me;
  $("reply").disabled = !mine;
  $("send-reply").disabled = !mine;
  $("accept").hidden = handoff.status !== "pending";
  $("release").hidden = !mine;
  $("close").hidden = !mine;
  $("order-submit").disabled = !mine;
  $("assist-for").textContent = assist_for ? "针对：" + assist_for : "市民还没有提问";
  $("assist").replaceChildren(...assist.map((a) => {
    const li = el("li");
    li.append(el("div", "line", a.title), el("div", "answer", a.answer));
    const use = el("button", "use", "使用");
    use.type = "button";
    use.addEventListener("click", () => { $("reply").value = a.answer; $("reply").focus(); });
    li.append(use);
    return li;
  }));
  for (const li of document.querySelectorAll(".items li")) {
    li.classList.toggle("current", Number(li.dataset.id) === id);
  }
  if (changed) listen();
}

async function act(id, action) {
  const resp = await api("POST", `/api/v1/handoffs/${id}/${action}`);
  const error = $("act-error");
  error.hidden = resp.ok;
  if (!resp.ok) {
    error.textContent = resp.status === 409 ? "该会话已被其他坐席接入或已结束。" : "操作失败：" + (resp.data.detail || resp.status);
  }
  await refreshLists();
  await openConversation(id);
}

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text || current === null) return;
  const resp = await api("POST", `/api/v1/handoffs/${current}/messages`, { text });
  if (resp.ok) {
    $("reply").value = "";
    await openConversation(current);
  } else {
    $("act-error").hidden = false;
    $("act-error").textContent = "发送失败：" + (resp.data.detail || resp.status);
  }
});
$("reply").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("reply-form").requestSubmit();
  }
});
$("accept").addEventListener("click", () => act(current, "accept"));
$("release").addEventListener("click", () => act(current, "release"));
$("close").addEventListener("click", () => act(current, "close"));
$("presence").addEventListener("click", async () => {
  const next = $("presence").dataset.status === "available" ? "away" : "available";
  const resp = await api("POST", "/api/v1/operators/me/status", { status: next });
  if (resp.ok) showPresence(resp.data.status);
  await refreshLists();
});

// The order form starts from the bot's draft; a phone or name it collected is shown masked and
// used by the server when the field is left empty.
function fillOrder(draft, handoff) {
  $("order-kind").value = ["求助", "投诉", "咨询", "举报", "建议", "表扬"].includes(draft.kind) ? draft.kind : "求助";
  $("order-text").value = draft.request_text || (handoff.summary || {}).wants || "";
  $("order-address").value = draft.address || "";
  $("order-name").value = "";
  $("order-name").placeholder = draft.citizen_name ? "留空则用：" + draft.citizen_name : "";
  $("order-phone").value = "";
  $("order-phone").placeholder = draft.citizen_phone ? "留空则用：" + draft.citizen_phone : "市民的电话";
  $("order-done").hidden = true;
}

$("order-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (current === null) return;
  const body = { request_text: $("order-text").value.trim(), kind: $("order-kind").value };
  for (const [key, id] of [["address", "order-address"], ["citizen_name", "order-name"], ["citizen_phone", "order-phone"]]) {
    const value = $(id).value.trim();
    if (value) body[key] = value;
  }
  const resp = await api("POST", `/api/v1/handoffs/${current}/order`, body);
  const done = $("order-done");
  done.hidden = false;
  if (resp.ok) {
    done.textContent = "已登记工单：" + resp.data.order.number;
  } else {
    const detail = resp.data.detail;
    done.textContent = "登记失败：" + (detail && detail.message ? detail.message : JSON.stringify(detail || resp.status));
  }
  await openConversation(current);
});

function listen() {
  if (stream) stream.close();
  const query = current === null ? "" : `?conversation=${current}`;
  stream = new EventSource(`/api/v1/handoffs/events${query}`);
  stream.addEventListener("changed", async () => {
    await refreshLists();
    if (current !== null) await openConversation(current);
  });
}

refreshLists();
listen();
// The console open counts as activity: presence does not lapse while it is on screen.
setInterval(refreshLists, 60000);
