// The chat of an endpoint's Playground, a model page's try-it panel and the Compare view.
// The browser calls the endpoint's own OpenAI-compatible URL (/endpoints/{owner}/{name}/v1/chat/completions,
// streamed as server-sent events) with the viewer's session cookie and the page's CSRF token, which the
// hub asks of every request a cookie authorizes. A model's answer and a server's message are untrusted
// text: they are only ever set as textContent, never parsed as HTML.
(function () {
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  function wordsOf(root) {
    try {
      return JSON.parse(root.dataset.words || "{}");
    } catch (_) {
      return {};
    }
  }

  function say(words, key, values) {
    let text = words[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
    return text;
  }

  class GatewayError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code || "";
      // The gateway answers 503 when the endpoint has no replica to take the request (stopped, starting, failed).
      this.notRunning = status === 503;
    }
  }

  // OpenAI's error shape ({"error": {"message", "code"}}), or the hub's ({"error": "...", "code"}).
  async function errorOf(response) {
    let message = `HTTP ${response.status}`;
    let code = "";
    try {
      const answer = await response.json();
      const error = answer.error;
      if (error && typeof error === "object") {
        message = error.message || message;
        code = error.code || error.type || "";
      } else if (typeof error === "string") {
        message = error;
        code = answer.code || "";
      }
    } catch (_) { /* a body that is not JSON: the status says enough */ }
    return new GatewayError(message, response.status, code);
  }

  // One streamed chat completion. `onPiece` gets each piece of content as it arrives; the promise ends
  // with the tokens generated (the engine's usage when it sends one, else one per content event) and the time.
  async function streamChat(url, body, onPiece, signal) {
    const started = performance.now();
    const response = await fetch(`${url}/chat/completions`, {
      method: "POST",
      credentials: "same-origin",
      signal,
      headers: { "content-type": "application/json", accept: "text/event-stream", "x-csrf-token": csrf() },
      body: JSON.stringify({ ...body, stream: true }),
    });
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let pieces = 0;
    let usage = null;
    let finish = "";
    const take = (event) => {
      const data = event.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n");
      if (!data || data === "[DONE]") return;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch (_) {
        return;
      }
      if (chunk.error) {
        const error = typeof chunk.error === "object" ? chunk.error : { message: String(chunk.error) };
        throw new GatewayError(error.message || "error", 0, error.code);
      }
      if (chunk.usage) usage = chunk.usage;
      const choice = (chunk.choices || [])[0];
      if (!choice) return;
      const text = choice.delta && typeof choice.delta.content === "string" ? choice.delta.content : "";
      if (text) {
        pieces += 1;
        onPiece(text);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        take(event);
      }
    }
    if (buffer.trim()) take(buffer);
    const tokens = usage && usage.completion_tokens ? usage.completion_tokens : pieces;
    return { tokens, seconds: (performance.now() - started) / 1000, finish };
  }

  function statsText(words, result) {
    const rate = result.seconds > 0 ? (result.tokens / result.seconds).toFixed(1) : "0";
    return [
      say(words, "{seconds} s", { seconds: result.seconds.toFixed(2) }),
      say(words, "{count} tokens", { count: result.tokens }),
      say(words, "{rate} tokens/s", { rate }),
    ].join(" · ");
  }

  // The parameters a page offers ([data-param] inputs); an empty field is left to the engine's default.
  function paramsOf(root) {
    const body = {};
    for (const input of root.querySelectorAll("[data-param]")) {
      const key = input.dataset.param;
      const raw = input.value.trim();
      if (key === "system" || raw === "") continue;
      if (key === "stop") {
        body.stop = input.value.split("\n").map((line) => line.replace(/\r$/, "")).filter((line) => line !== "");
      } else {
        body[key] = key === "max_tokens" || key === "seed" ? Number.parseInt(raw, 10) : Number(raw);
      }
    }
    return body;
  }

  function showError(box, words, failure, summary) {
    box.replaceChildren(document.createTextNode(failure.message));
    box.dataset.code = failure.code || "";
    if (failure.notRunning && summary) {
      const link = document.createElement("a");
      link.href = summary;
      link.textContent = say(words, "Open its Summary");
      box.append(document.createTextNode(` ${say(words, "This endpoint is not running right now.")} `), link);
    }
    box.hidden = false;
  }

  function failureOf(error, words) {
    if (error instanceof GatewayError) return error;
    return new GatewayError(say(words, "The connection to the endpoint broke"), 0, "network");
  }

  function setupChat(root) {
    const words = wordsOf(root);
    const log = root.querySelector("[data-log]");
    const form = root.querySelector("[data-chat-form]");
    const prompt = form.elements.prompt;
    const send = root.querySelector("[data-send]");
    const stop = root.querySelector("[data-stop]");
    const stats = root.querySelector("[data-stats]");
    const errorBox = root.querySelector("[data-error]");
    const endpoint = root.querySelector("[data-chat-endpoint]");
    const system = root.querySelector('[data-param="system"]');
    let history = [];
    let running = null;

    const chosen = () => (endpoint.tagName === "SELECT" ? endpoint.selectedOptions[0] : endpoint);
    const busy = (on) => {
      send.disabled = on;
      stop.hidden = !on;
      root.dataset.busy = on ? "true" : "false";
    };
    const bubble = (role, text) => {
      const item = document.createElement("li");
      item.className = `chat-msg chat-${role}`;
      item.dataset.role = role;
      const who = document.createElement("span");
      who.className = "chat-who";
      who.textContent = say(words, role === "user" ? "You" : "Assistant");
      const body = document.createElement("div");
      body.className = "chat-text";
      body.textContent = text;
      item.append(who, body);
      log.append(item);
      return item;
    };
    const reset = () => {
      if (running) running.abort();
      history = [];
      log.replaceChildren();
      stats.textContent = "";
      errorBox.hidden = true;
    };

    root.querySelector("[data-clear]").addEventListener("click", reset);
    stop.addEventListener("click", () => running && running.abort());
    if (endpoint.tagName === "SELECT") {
      endpoint.addEventListener("change", () => {
        reset();  // another endpoint may be another model: the conversation starts over
        const link = root.closest("section.try-it")?.querySelector("[data-playground-link]");
        if (link) link.href = `${chosen().dataset.summary}/playground`;
      });
    }
    prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (running) return;
      const text = prompt.value;
      errorBox.hidden = true;
      if (!text.trim()) {
        showError(errorBox, words, new GatewayError(say(words, "Write a prompt first"), 0, "empty"));
        return;
      }
      const messages = system && system.value.trim() ? [{ role: "system", content: system.value }] : [];
      messages.push(...history, { role: "user", content: text });
      const asked = bubble("user", text);
      const answer = bubble("assistant", "");
      const answerText = answer.querySelector(".chat-text");
      answer.dataset.state = "streaming";
      answerText.textContent = say(words, "Thinking…");
      prompt.value = "";
      stats.textContent = "";
      running = new AbortController();
      busy(true);
      let received = "";
      try {
        const target = chosen();
        const result = await streamChat(target.value, { ...paramsOf(root), messages }, (piece) => {
          received += piece;
          answerText.textContent = received;
          answer.dataset.pieces = String(Number(answer.dataset.pieces || 0) + 1);
          log.scrollTop = log.scrollHeight;
        }, running.signal);
        answerText.textContent = received;
        answer.dataset.state = "done";
        answer.dataset.tokens = String(result.tokens);
        history.push({ role: "user", content: text }, { role: "assistant", content: received });
        stats.textContent = statsText(words, result);
      } catch (error) {
        if (error.name === "AbortError") {
          // Stopped by the viewer: what came so far stays, as a turn of the conversation.
          answerText.textContent = received;
          answer.dataset.state = "stopped";
          history.push({ role: "user", content: text }, { role: "assistant", content: received });
          stats.textContent = say(words, "Stopped");
        } else {
          // A request that failed is not part of the conversation: the prompt goes back to be sent again.
          asked.remove();
          answer.remove();
          prompt.value = text;
          showError(errorBox, words, failureOf(error, words), chosen().dataset.summary);
        }
      } finally {
        running = null;
        busy(false);
      }
    });
  }

  function setupCompare(root) {
    const words = wordsOf(root);
    const form = root.querySelector("[data-compare-form]");
    const prompt = form.elements.prompt;
    const send = root.querySelector("[data-send]");
    const stop = root.querySelector("[data-stop]");
    const grid = root.querySelector("[data-columns]");
    const errorBox = root.querySelector("[data-error]");
    let running = null;
    stop.addEventListener("click", () => running && running.abort());

    const column = (option) => {
      const col = document.createElement("article");
      col.className = "compare-col";
      col.dataset.endpoint = option.dataset.name;
      const head = document.createElement("h2");
      const link = document.createElement("a");
      link.href = option.dataset.summary;
      link.textContent = option.dataset.name;
      head.append(link);
      const text = document.createElement("div");
      text.className = "chat-text";
      text.textContent = say(words, "Thinking…");
      const stats = document.createElement("p");
      stats.className = "chat-stats meta";
      const error = document.createElement("div");
      error.className = "chat-error error";
      error.hidden = true;
      col.append(head, text, stats, error);
      grid.append(col);
      return { col, text, stats, error, option };
    };

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (running) return;
      errorBox.hidden = true;
      const seen = new Set();
      const options = [...root.querySelectorAll("[data-compare-endpoint]")]
        .map((select) => select.selectedOptions[0])
        .filter((option) => option && option.value && !seen.has(option.value) && seen.add(option.value));
      if (!options.length || !prompt.value.trim()) {
        const message = options.length ? "Write a prompt first" : "Choose at least one endpoint";
        showError(errorBox, words, new GatewayError(say(words, message), 0, "empty"));
        return;
      }
      const body = { ...paramsOf(root), messages: [{ role: "user", content: prompt.value }] };
      grid.replaceChildren();
      const columns = options.map(column);
      running = new AbortController();
      send.disabled = true;
      stop.hidden = false;
      await Promise.all(columns.map(async (c) => {
        let received = "";
        c.col.dataset.state = "streaming";
        try {
          const result = await streamChat(c.option.value, body, (piece) => {
            received += piece;
            c.text.textContent = received;
          }, running.signal);
          c.text.textContent = received;
          c.stats.textContent = statsText(words, result);
          c.col.dataset.tokens = String(result.tokens);
          c.col.dataset.state = "done";
        } catch (error) {
          c.text.textContent = received;
          if (error.name === "AbortError") {
            c.stats.textContent = say(words, "Stopped");
            c.col.dataset.state = "stopped";
          } else {
            showError(c.error, words, failureOf(error, words), c.option.dataset.summary);
            c.col.dataset.state = "failed";
          }
        }
      }));
      running = null;
      send.disabled = false;
      stop.hidden = true;
    });
  }

  document.querySelectorAll("[data-chat]").forEach(setupChat);
  document.querySelectorAll("[data-compare]").forEach(setupCompare);
})();
