// Uploads from the browser the way git-lfs and huggingface_hub do: large files are hashed here
// (SHA-256, read a slice at a time, never whole in memory), sent through the repository's LFS batch
// API in parts, verified, and then one commit names them; small files ride inline in that commit.
// WebCrypto cannot hash a stream, so SHA-256 is computed by the small routine below.
(function () {
  "use strict";

  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  class Sha256 {
    constructor() {
      this.h = new Uint32Array([
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
      ]);
      this.w = new Uint32Array(64);
      this.tail = new Uint8Array(64);
      this.tailLength = 0;
      this.total = 0;
    }

    block(view, offset) {
      const w = this.w;
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], b = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      const h = this.h;
      let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (let i = 0; i < 64; i++) {
        const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }

    update(bytes) {
      let offset = 0;
      this.total += bytes.length;
      if (this.tailLength) {
        const take = Math.min(64 - this.tailLength, bytes.length);
        this.tail.set(bytes.subarray(0, take), this.tailLength);
        this.tailLength += take;
        offset = take;
        if (this.tailLength < 64) return;
        this.block(new DataView(this.tail.buffer), 0);
        this.tailLength = 0;
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (; offset + 64 <= bytes.length; offset += 64) this.block(view, offset);
      this.tail.set(bytes.subarray(offset), 0);
      this.tailLength = bytes.length - offset;
    }

    hex() {
      const bits = this.total * 8;
      // 0x80, zeros up to 56 bytes into a block, then the message length in bits (big-endian, 64 bits).
      const pad = new Uint8Array((this.tailLength < 56 ? 56 : 120) - this.tailLength);
      pad[0] = 0x80;
      const length = new DataView(new ArrayBuffer(8));
      length.setUint32(0, Math.floor(bits / 0x100000000));
      length.setUint32(4, bits >>> 0);
      this.update(pad);
      this.update(new Uint8Array(length.buffer));
      return Array.from(this.h, (x) => x.toString(16).padStart(8, "0")).join("");
    }
  }

  const SLICE = 8 * 1024 * 1024;

  async function sha256(file, onProgress) {
    const hash = new Sha256();
    for (let start = 0; start < file.size; start += SLICE) {
      const bytes = new Uint8Array(await file.slice(start, start + SLICE).arrayBuffer());
      hash.update(bytes);
      onProgress(Math.min(file.size, start + SLICE));
    }
    return hash.hex();
  }

  // The page's language: upload.html hands over its words and, in Chinese, the server's messages by
  // their English text (values in braces) and by error code, the same table the pages use.
  function speaker(form) {
    const table = JSON.parse(form.dataset.messages || "{}");
    const fill = (text, values) => text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
    const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const known = table.messages || {};
    // The template with the most fixed text first, as the pages match them (web/i18n_errors.py).
    const fixed = (english) => english.replace(/\{\w+\}/g, "").length;
    const templates = Object.entries(known).filter(([english]) => english.includes("{"))
      .sort(([a], [b]) => fixed(b) - fixed(a));
    const patterns = templates.map(([english, local]) => {
      const parts = english.split(/\{(\w+)\}/);
      const body = parts.map((part, i) => (i % 2 ? `(?<${part}>[\\s\\S]+?)` : escape(part))).join("");
      return [new RegExp(`^${body}$`), local];
    });
    const say = (key, values = {}) => fill((table.words || {})[key] || key, values);
    const server = (message, code) => {
      if (!table.messages) return message;
      if (!message.includes("{") && known[message]) return known[message];
      for (const [pattern, local] of patterns) {
        const found = pattern.exec(message);
        if (found) {
          const values = { ...found.groups };
          if (values.action) values.action = (table.actions || {})[values.action] || values.action;
          return fill(local, values);
        }
      }
      const sentence = (table.codes || {})[code];
      return sentence ? `${sentence}：${message}` : message;
    };
    return { say, server };
  }
  window.csghubSpeaker = speaker;

  function failure(message, code) {
    const error = new Error(message);
    error.code = code;
    return error;
  }

  function send(method, url, body, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(method, url);
      for (const [name, value] of Object.entries(headers || {})) request.setRequestHeader(name, value);
      if (onProgress) request.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) { resolve(request); return; }
        let message = `${method} failed with status ${request.status}`;
        let code;
        try {
          const answer = JSON.parse(request.responseText);
          message = answer.error || answer.message || message;
          code = answer.code;
        } catch (_) { /* keep */ }
        reject(failure(message, code));
      });
      request.addEventListener("error", () => reject(failure("The connection broke during the upload")));
      request.send(body);
    });
  }

  function base64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  async function uploadLfs(form, file, oid, csrf, progress) {
    const answer = await send("POST", form.dataset.batchUrl, JSON.stringify({
      operation: "upload", transfers: ["multipart", "basic"], hash_algo: "sha256",
      objects: [{ oid, size: file.size }],
    }), { "Content-Type": "application/vnd.git-lfs+json", Accept: "application/vnd.git-lfs+json", "X-CSRF-Token": csrf });
    const object = JSON.parse(answer.responseText).objects[0];
    if (object.error) throw failure(object.error.message);
    const actions = object.actions || {};
    if (!actions.upload) { progress(file.size); return; } // the hub already holds these bytes
    const header = actions.upload.header || {};
    const parts = Object.keys(header).filter((key) => /^\d+$/.test(key)).map(Number).sort((a, b) => a - b);
    if (parts.length) {
      const size = Number(header.chunk_size);
      const done = [];
      for (const number of parts) {
        const start = (number - 1) * size;
        const reply = await send("PUT", header[String(number)], file.slice(start, start + size), {},
          (loaded) => progress(start + loaded));
        done.push({ partNumber: number, etag: (reply.getResponseHeader("ETag") || "").replace(/"/g, "") });
      }
      await send("POST", actions.upload.href, JSON.stringify({ oid, parts: done }), { "Content-Type": "application/json" });
    } else {
      await send("PUT", actions.upload.href, file, actions.upload.header || {}, progress);
    }
    if (actions.verify) {
      await send("POST", actions.verify.href, JSON.stringify({ oid, size: file.size }),
        { "Content-Type": "application/vnd.git-lfs+json", ...(actions.verify.header || {}) });
    }
  }

  window.csghubUpload = async function (form, chosen, report) {
    const speak = speaker(form);
    try {
      return await upload(form, chosen, (key, path, fraction) => report(speak.say(key, { path }), fraction), speak);
    } catch (problem) {
      throw new Error(speak.server(problem.message, problem.code));
    }
  };

  async function upload(form, chosen, report, speak) {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const threshold = Number(form.dataset.lfsThreshold);
    const total = chosen.reduce((sum, item) => sum + item.file.size, 0) || 1;
    let finished = 0;
    const folder = form.elements.folder.value.replace(/^\/+|\/+$/g, "");
    const lines = [];
    for (const { file, path } of chosen) {
      const target = folder ? `${folder}/${path}` : path;
      if (file.size >= threshold) {
        const oid = await sha256(file, (n) => report("Hashing {path}", path, (finished + n / 2) / total));
        await uploadLfs(form, file, oid, csrf, (n) => report("Uploading {path}", path, (finished + file.size / 2 + n / 2) / total));
        lines.push({ key: "lfsFile", value: { path: target, algo: "sha256", oid, size: file.size } });
      } else {
        const bytes = new Uint8Array(await file.arrayBuffer());
        lines.push({ key: "file", value: { path: target, encoding: "base64", content: base64(bytes) } });
      }
      finished += file.size;
      report("Prepared {path}", path, finished / total);
    }
    let branch = form.elements.branch.value;
    const newBranch = form.elements.new_branch.value.trim();
    const json = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    if (newBranch) {
      await send("POST", `${form.dataset.apiBase}/branch/${encodeURIComponent(newBranch)}`,
        JSON.stringify({ startingPoint: branch }), json);
      branch = newBranch;
    }
    const count = chosen.length;
    const summary = form.elements.summary.value.trim() || speak.say(count > 1 ? "Upload {count} files" : "Upload {count} file", { count });
    const body = [{ key: "header", value: { summary, description: form.elements.description.value } }, ...lines]
      .map((line) => JSON.stringify(line)).join("\n");
    report("Committing", "", 1);
    await send("POST", `${form.dataset.apiBase}/commit/${encodeURIComponent(branch)}`, body,
      { "Content-Type": "application/x-ndjson", "X-CSRF-Token": csrf });
    return `${form.dataset.base}/tree/${encodeURIComponent(branch)}`;
  }
})();
