// The browser call page: microphone -> 16 kHz PCM over WS /voice/ws (docs/voice.md), the
// hotline's voice played back, both sides of the conversation shown, hang-up and a keypad.
"use strict";

const RATE = 16000;
const log = document.getElementById("log");
const statusLine = document.getElementById("status");
const dialButton = document.getElementById("dial");
const hangupButton = document.getElementById("hangup");
const typed = document.getElementById("typed");
const keys = Array.from(document.querySelectorAll("#keypad button[data-key]"));

const STATES = {
  listening: "请讲话…",
  thinking: "正在为您处理…",
  speaking: "正在播报，您可以直接打断",
  confirming: "请说“对”或“不对”，也可以按1确认、按2重说",
};
const ENDINGS = {
  completed: "通话已结束，感谢您的来电",
  transfer: "需要人工服务：网页通话暂不能接通话务员，请拨打12345热线",
  hangup: "通话已挂断",
  refused: "线路繁忙，请稍后再拨",
};

let call = null; // {ws, ctx, stream, node, sources, playhead, partialRow, ended}

function setStatus(text) {
  statusLine.textContent = text;
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

function addNotice(text) {
  const div = document.createElement("div");
  div.className = "notice";
  div.textContent = text;
  log.append(div);
  log.scrollTop = log.scrollHeight;
}

function setInCall(inCall) {
  dialButton.disabled = inCall;
  hangupButton.disabled = !inCall;
  for (const key of keys) key.disabled = !inCall;
}

// ---- audio out: slin16 frames scheduled back to back; "clear" drops what is queued ----

function play(buffer) {
  const pcm = new Int16Array(buffer);
  const samples = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
  const audio = call.ctx.createBuffer(1, samples.length, RATE);
  audio.copyToChannel(samples, 0);
  const source = call.ctx.createBufferSource();
  source.buffer = audio;
  source.connect(call.ctx.destination);
  // A little slack when playback starts afresh, so network jitter does not cut it up.
  const at = Math.max(call.ctx.currentTime + 0.06, call.playhead);
  source.start(at);
  call.playhead = at + audio.duration;
  call.sources.add(source);
  source.onended = () => call && call.sources.delete(source);
  call.heardMs += audio.duration * 1000;
  document.body.dataset.heardMs = String(Math.round(call.heardMs));
}

function clearPlayback() {
  for (const source of call.sources) {
    try {
      source.stop();
    } catch (e) {
      // already stopped
    }
  }
  call.sources.clear();
  call.playhead = 0;
}

// ---- events from the hotline ----

function onEvent(event) {
  switch (event.type) {
    case "started":
      call.id = event.call_id;
      document.body.dataset.callId = event.call_id;
      setStatus("已接通");
      break;
    case "partial":
      if (!call.partialRow) call.partialRow = addBubble("user", "", "partial");
      call.partialRow.querySelector(".bubble").textContent = event.text + "…";
      break;
    case "final":
      if (call.partialRow) {
        call.partialRow.remove();
        call.partialRow = null;
      }
      addBubble("user", event.input === "dtmf" ? "按键：" + event.text : event.text);
      break;
    case "bot":
      addBubble("bot", event.text);
      break;
    case "state":
      if (STATES[event.state]) setStatus(STATES[event.state]);
      break;
    case "clear":
      clearPlayback();
      break;
    case "error":
      addNotice("通话出错：" + event.message);
      break;
    case "end":
      call.ended = true;
      document.body.dataset.outcome = event.outcome;
      setStatus(ENDINGS[event.outcome] || "通话已结束");
      addNotice(ENDINGS[event.outcome] || "通话已结束");
      break;
  }
}

// ---- the call ----

async function dial() {
  setInCall(true);
  setStatus("正在接通…");
  typed.textContent = "";
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (e) {
    setInCall(false);
    setStatus("无法使用麦克风：" + e.message + "。请允许本页使用麦克风后再拨打。");
    return;
  }
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule("/static/call-worklet.js");
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "hotline-capture", {
    processorOptions: { targetRate: RATE },
  });
  const mute = ctx.createGain();
  mute.gain.value = 0; // the node must be in the rendered graph; nothing is heard from it
  source.connect(node).connect(mute).connect(ctx.destination);

  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/voice/ws");
  ws.binaryType = "arraybuffer";
  call = {
    ws, ctx, stream, node, sources: new Set(), playhead: 0, heardMs: 0, partialRow: null, ended: false,
  };

  node.port.onmessage = (e) => {
    if (ws.readyState === WebSocket.OPEN && call && call.id) ws.send(e.data);
  };
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", sample_rate: RATE }));
  ws.onmessage = (e) => {
    if (typeof e.data === "string") onEvent(JSON.parse(e.data));
    else if (call) play(e.data);
  };
  ws.onclose = () => {
    if (call && !call.ended) {
      setStatus("通话已断开");
      addNotice("通话已断开");
    }
    teardown();
  };
}

function hangup() {
  if (!call) return;
  hangupButton.disabled = true;
  if (call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify({ type: "hangup" }));
  else teardown();
}

function teardown() {
  if (!call) return;
  const { ctx, stream, node } = call;
  node.port.onmessage = null;
  for (const track of stream.getTracks()) track.stop();
  // Let the last words of a goodbye or transfer line finish before closing the audio.
  const left = Math.max(0, call.playhead - ctx.currentTime);
  setTimeout(() => ctx.close(), left * 1000 + 100);
  call = null;
  setInCall(false);
}

function press(key) {
  if (!call || call.ws.readyState !== WebSocket.OPEN) return;
  call.ws.send(JSON.stringify({ type: "dtmf", digit: key }));
  typed.textContent = key === "#" ? "" : (typed.textContent + key).slice(-20);
}

dialButton.addEventListener("click", dial);
hangupButton.addEventListener("click", hangup);
for (const key of keys) key.addEventListener("click", () => press(key.dataset.key));
document.addEventListener("keydown", (e) => {
  if (call && /^[0-9*#]$/.test(e.key)) press(e.key);
});
setInCall(false);
