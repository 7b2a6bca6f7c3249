/// The chat page served at /: one static file, talking to /v1/chat/completions
/// with `stream: true` and showing the reply as its server-sent events arrive.
let chatPage = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tinygpt chat</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; background: #fafafa; color: #222; }
  header { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 1.2rem; margin: 0 1rem 0 0; }
  #log { margin: 1rem 0; display: flex; flex-direction: column; gap: .6rem; }
  .message { padding: .5rem .75rem; border-radius: .5rem; white-space: pre-wrap; line-height: 1.4; }
  .user { background: #dbeafe; align-self: flex-end; }
  .assistant { background: #fff; border: 1px solid #ddd; align-self: flex-start; }
  .error { background: #fee2e2; }
  form { display: flex; gap: .5rem; }
  textarea { flex: 1; font: inherit; padding: .5rem; min-height: 3rem; }
  small, label { color: #666; font-size: .85rem; }
  input { width: 5rem; }
</style>
</head>
<body>
<header>
  <h1>tinygpt chat</h1>
  <small id="model">…</small>
  <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></label>
  <label>max tokens <input id="max_tokens" type="number" min="1" value="256"></label>
  <label>API key <input id="key" type="password" autocomplete="off"></label>
  <button id="clear" type="button">New chat</button>
</header>
<div id="log"></div>
<form id="form">
  <textarea id="input" placeholder="Message (Enter sends, Shift+Enter a new line)"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<script>
const log = document.getElementById("log"), input = document.getElementById("input"), form = document.getElementById("form");
const send = document.getElementById("send");
let messages = [];
function headers() {
  const h = { "Content-Type": "application/json" };
  const key = document.getElementById("key").value;
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  div.textContent = text;
  log.appendChild(div);
  window.scrollTo(0, document.body.scrollHeight);
  return div;
}
fetch("/v1/models", { headers: headers() }).then(r => r.json()).then(j => {
  if (j.data) document.getElementById("model").textContent = j.data[0].id + " (context " + j.data[0].meta.context_length + ")";
}).catch(() => {});
document.getElementById("clear").onclick = () => { messages = []; log.innerHTML = ""; };
input.addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
form.addEventListener("submit", async e => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || send.disabled) return;
  input.value = "";
  messages.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant", "");
  send.disabled = true;
  let answer = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(),
      body: JSON.stringify({ messages, stream: true,
                             temperature: Number(document.getElementById("temperature").value),
                             max_tokens: Number(document.getElementById("max_tokens").value) })
    });
    if (!response.ok) {
      const j = await response.json().catch(() => ({}));
      throw new Error((j.error && j.error.message) || response.statusText);
    }
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let pending = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = pending.indexOf("\n\n")) >= 0) {
        const event = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const delta = JSON.parse(data).choices[0]?.delta?.content;
        if (delta) { answer += delta; reply.textContent = answer; window.scrollTo(0, document.body.scrollHeight); }
      }
    }
    messages.push({ role: "assistant", content: answer });
    reply.dataset.done = "true";
  } catch (err) {
    reply.className = "message error";
    reply.textContent = "error: " + err.message;
    messages.pop();
    reply.dataset.done = "true";
  } finally {
    send.disabled = false;
    input.focus();
  }
});
</script>
</body>
</html>
"""#
