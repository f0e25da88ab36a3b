/// The chat page at `/`: plain HTML and JavaScript, no build step. It keeps
/// the conversation in the page, posts it to /v1/chat/completions with
/// `stream: true`, and appends each server-sent delta as it arrives. The
/// reply's element gets `data-done="true"` (and the finish reason) when the
/// stream ends, which is what its headless-browser test waits for.
enum ChatPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simply chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }
  header { padding: 10px 18px; background: #24324a; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  header span { font-size: 12px; opacity: .8; font-family: ui-monospace, monospace; }
  #log { max-width: 820px; margin: 0 auto; padding: 16px 18px 120px; }
  .msg { margin: 10px 0; padding: 10px 14px; border-radius: 8px; white-space: pre-wrap; word-wrap: break-word; }
  .user { background: #dfe8f7; margin-left: 80px; }
  .assistant { background: #fff; border: 1px solid #ddd; margin-right: 80px; }
  .assistant[data-done="false"]::after { content: "▍"; color: #888; }
  .meta { font-size: 11px; color: #888; margin-top: 4px; }
  .error { background: #fde2e2; border: 1px solid #e99; }
  form { position: fixed; bottom: 0; left: 0; right: 0; background: #fff; border-top: 1px solid #ddd; padding: 10px 18px; }
  .row { max-width: 820px; margin: 0 auto; display: flex; gap: 8px; align-items: center; }
  textarea { flex: 1; font: inherit; padding: 8px; height: 42px; resize: vertical; }
  label { font-size: 12px; color: #555; }
  input[type=number] { width: 64px; }
  button { font: inherit; padding: 8px 16px; }
</style>
</head>
<body>
<header><h1>Simply chat</h1><span id="model">…</span></header>
<div id="log"></div>
<form id="form">
  <div class="row">
    <textarea id="input" placeholder="Say something…" autofocus></textarea>
    <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></label>
    <label>max tokens <input id="max_tokens" type="number" min="1" value="96"></label>
    <label>seed <input id="seed" type="number" placeholder="any"></label>
    <button id="send" type="submit">Send</button>
  </div>
</form>
<script>
"use strict";
const log = document.getElementById("log");
const messages = [];
let model = null;

async function loadModel() {
  const r = await fetch("/v1/models");
  const body = await r.json();
  model = body.data[0].id;
  document.getElementById("model").textContent = model + " · context " + body.data[0].max_model_len;
}

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  log.appendChild(div);
  window.scrollTo(0, document.body.scrollHeight);
  return div;
}

// Reads server-sent events from a fetch body; calls onData with each parsed `data:` payload.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function send(text) {
  messages.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant", "");
  reply.dataset.done = "false";
  const request = { model, messages, stream: true, temperature: Number(document.getElementById("temperature").value) };
  const maxTokens = document.getElementById("max_tokens").value;
  if (maxTokens !== "") request.max_tokens = Number(maxTokens);
  const seed = document.getElementById("seed").value;
  if (seed !== "") request.seed = Number(seed);
  let content = "", finish = null, fingerprint = null, usedSeed = null;
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (!r.ok) {
      const e = await r.json();
      throw new Error(e.error ? e.error.message : r.statusText);
    }
    await readEvents(r, chunk => {
      fingerprint = chunk.system_fingerprint; usedSeed = chunk.seed;
      for (const choice of chunk.choices) {
        if (choice.delta && choice.delta.content) { content += choice.delta.content; reply.textContent = content; }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      window.scrollTo(0, document.body.scrollHeight);
    });
    messages.push({ role: "assistant", content });
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = "finish: " + finish + " · seed " + usedSeed + " · " + (fingerprint || "").slice(0, 23);
    reply.appendChild(meta);
    reply.dataset.finish = finish;
  } catch (e) {
    reply.className += " error";
    reply.textContent = "error: " + e.message;
    messages.pop();
  }
  reply.dataset.done = "true";
}

document.getElementById("form").addEventListener("submit", ev => {
  ev.preventDefault();
  const input = document.getElementById("input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});
document.getElementById("input").addEventListener("keydown", ev => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); document.getElementById("form").requestSubmit(); }
});

// The page's own test (headless Chromium, tools/serve/chat_page_test.sh):
// /?test=PROMPT sends PROMPT, waits for the streamed reply, and writes the
// verdict into the page title and #test-result.
async function selfTest(prompt) {
  await loadModel();
  const chunks = [];
  const seen = new MutationObserver(() => chunks.push(log.lastChild ? log.lastChild.textContent.length : 0));
  seen.observe(log, { childList: true, subtree: true, characterData: true });
  await send(prompt);
  seen.disconnect();
  const reply = log.querySelector(".assistant");
  const text = reply.firstChild && reply.firstChild.nodeType === Node.TEXT_NODE ? reply.firstChild.textContent : "";
  const ok = reply.dataset.done === "true" && !reply.classList.contains("error") && text.length > 0 && !!reply.dataset.finish;
  const result = document.createElement("pre");
  result.id = "test-result";
  result.textContent = (ok ? "PASS" : "FAIL") + " reply=" + JSON.stringify(text) + " finish=" + reply.dataset.finish
    + " updates=" + chunks.length;
  document.body.appendChild(result);
  document.title = ok ? "PASS" : "FAIL";
}

const testPrompt = new URLSearchParams(location.search).get("test");
if (testPrompt !== null) selfTest(testPrompt); else loadModel();
</script>
</body>
</html>
"""#
}
