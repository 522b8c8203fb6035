// The fine-tuning pages: a new experiment's "Add task", an experiment's and an instance's live progress
// (polled from the JSON API: state, phase, step/total, loss, learning rate, eta, the loss chart, the log,
// the results), Cancel and Deploy (the JSON API, with the page's CSRF token), and pages that wait for an
// endpoint to run. Server text (logs, errors) is only ever set as textContent.
(function () {
  const POLL_MS = 1500;
  const ENDED = ["succeeded", "failed", "cancelled"];
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };
  const wordsOf = (root) => {
    try {
      return JSON.parse(root.dataset.words || "{}");
    } catch (_) {
      return {};
    }
  };
  const capital = (text) => (text ? text.charAt(0).toUpperCase() + text.slice(1) : "");
  const say = (words, key) => words[key] || key;

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()).data;
  }

  async function put(url) {
    const response = await fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { accept: "application/json", "x-csrf-token": csrf() },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof body.error === "string" ? body.error : `HTTP ${response.status}`);
    return body.data;
  }

  // The loss curve: the same scaling as web/finetune_forms.py's loss_points.
  function lossPoints(history) {
    const pairs = (history || []).filter((p) => p.length >= 2).map((p) => [Number(p[0]), Number(p[1])]);
    if (!pairs.length) return "";
    const losses = pairs.map((p) => p[1]);
    const low = Math.min(...losses);
    const high = Math.max(...losses);
    const first = pairs[0][0];
    const spanX = pairs[pairs.length - 1][0] - first || 1;
    const spanY = high - low || 1;
    return pairs.map(([s, v]) => `${((s - first) / spanX * 300).toFixed(1)},${(100 - (v - low) / spanY * 92 - 4).toFixed(1)}`).join(" ");
  }

  function setField(card, name, text) {
    const field = card.querySelector(`[data-field="${name}"]`);
    if (field) field.textContent = text;
    return field;
  }

  // One task's card from its JSON (api/finetune_json.py's job_json).
  function updateCard(card, task, words) {
    const p = task.progress || {};
    card.dataset.state = task.state;
    const state = setField(card, "state", say(words, capital(task.state)));
    if (state) state.className = `state state-${task.state}`;
    setField(card, "phase", task.phase ? say(words, `phase:${task.phase}`) : "—");
    setField(card, "step", `${p.step || 0} / ${p.total || 0}`);
    // The trainer's last line (its summary) has no loss: the last logged one stays shown.
    const last = (task.history || [])[(task.history || []).length - 1] || [];
    const loss = p.loss ?? last[1];
    const rate = p.learning_rate ?? last[2];
    setField(card, "loss", loss === null || loss === undefined ? "—" : Number(loss).toFixed(4));
    setField(card, "lr", rate === null || rate === undefined ? "—" : Number(rate).toExponential(2));
    setField(card, "eta", p.eta || "—");
    const bar = card.querySelector('[data-field="percentage"]');
    if (bar) bar.value = ENDED.includes(task.state) && task.state === "succeeded" ? 100 : Number(p.percentage || 0);
    const error = setField(card, "error", task.error || "");
    if (error) error.hidden = !task.error;
    const chart = card.querySelector("[data-chart]");
    if (chart) chart.setAttribute("points", lossPoints(task.history));
    const losses = (task.history || []).map((point) => Number(point[1]));
    if (losses.length) setField(card, "loss-range", `${losses[0].toFixed(3)} → ${losses[losses.length - 1].toFixed(3)}`);
    const output = card.querySelector('[data-field="output"]');
    if (output) output.hidden = !task.output_ready;
    const deploy = card.querySelector("[data-deploy-box]");
    if (deploy) deploy.hidden = !(task.state === "succeeded" && task.output_ready);
  }

  // The log, a piece at a time from where the last read ended (read again from the start once a run ends:
  // the kept log then replaces the running attempt's).
  async function updateLog(card, task) {
    const box = card.querySelector("[data-log]");
    if (!box) return;
    const ended = ENDED.includes(task.state);
    if (card.dataset.logDone === "true") return;
    let offset = Number(card.dataset.logOffset || 0);
    if (ended && card.dataset.logEnded !== "true") {
      offset = 0;
      box.textContent = "";
      card.dataset.logEnded = "true";
    }
    const response = await fetch(`/api/v1/finetunes/${task.id}/logs?offset=${offset}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const text = await response.text();
    const bytes = new TextEncoder().encode(text).length;
    card.dataset.logOffset = String(offset + bytes);
    if (text) box.textContent = (box.textContent + text).slice(-20000);
    if (ended) card.dataset.logDone = "true";
  }

  function cell(text, bold) {
    const td = document.createElement("td");
    if (bold) {
      const b = document.createElement("b");
      b.textContent = text;
      td.append(b);
    } else {
      td.textContent = text;
    }
    return td;
  }

  const score = (metrics, when, metric) => {
    const value = ((metrics || {})[when] || {})[metric];
    if (typeof value !== "number") return "—";
    return (metric === "exact_match" ? value * 100 : value).toFixed(1);
  };

  // The results side by side, in the API's ranked order.
  function updateResults(root, tasks) {
    const body = root.querySelector("[data-results]");
    if (!body) return;
    const metrics = [...root.querySelectorAll("thead th")].length - 2;
    const names = [...body.querySelectorAll("tr:first-child td[data-metric]")].map((td) => td.dataset.metric);
    if (!names.length || names.length !== metrics) return;
    body.replaceChildren(...tasks.map((task) => {
      const row = document.createElement("tr");
      row.dataset.result = task.task_name;
      row.append(cell(task.task_name));
      for (const metric of names) {
        const td = cell(`${score(task.metrics, "before", metric)} → `);
        td.dataset.metric = metric;
        const after = document.createElement("b");
        after.textContent = score(task.metrics, "after", metric);
        td.append(after);
        row.append(td);
      }
      const out = document.createElement("td");
      if (task.output_ready) {
        const link = document.createElement("a");
        link.href = `/${task.output_model}`;
        link.textContent = task.output_model;
        out.append(link);
      } else {
        out.textContent = "—";
      }
      row.append(out);
      return row;
    }));
  }

  function showError(root, message) {
    const box = root.querySelector("[data-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function setupExperiment(root) {
    const words = wordsOf(root);
    const id = root.dataset.experiment;
    const cancel = root.querySelector("[data-cancel]");
    if (cancel) {
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          await put(`/api/v1/finetune/experiments/${id}/stop`);
        } catch (error) {
          showError(root, error.message);
        }
      });
    }
    root.querySelectorAll("[data-deploy]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const said = button.parentElement.querySelector("[data-deployed]");
        said.textContent = say(words, "Deploying the model…");
        try {
          const endpoint = await put(`/api/v1/finetunes/${button.dataset.deploy}/deploy`);
          const link = document.createElement("a");
          link.href = `/endpoints/${endpoint.namespace}/${endpoint.deploy_name}`;
          link.textContent = `${endpoint.namespace}/${endpoint.deploy_name}`;
          said.replaceChildren(document.createTextNode(`${say(words, "Endpoint")} `), link,
            document.createTextNode(` · ${say(words, endpoint.status)}`));
        } catch (error) {
          said.textContent = "";
          showError(root, error.message);
        } finally {
          button.disabled = false;
        }
      });
    });
    const tick = async () => {
      let experiment;
      try {
        experiment = await getJSON(`/api/v1/finetune/experiments/${id}`);
      } catch (_) {
        setTimeout(tick, POLL_MS * 2);
        return;
      }
      const state = root.querySelector('[data-field="experiment-state"]');
      if (state) {
        state.textContent = say(words, capital(experiment.state));
        state.className = `state state-${experiment.state}`;
      }
      if (cancel) cancel.hidden = !["queued", "running"].includes(experiment.state);
      for (const task of experiment.tasks) {
        const card = root.querySelector(`[data-task="${task.id}"]`);
        if (!card) continue;
        updateCard(card, task, words);
        await updateLog(card, task).catch(() => {});
      }
      updateResults(root, experiment.tasks);
      const active = experiment.tasks.some((task) => !ENDED.includes(task.state));
      if (active) setTimeout(tick, POLL_MS);
    };
    tick();
  }

  function setupInstance(root) {
    const words = wordsOf(root);
    const url = `/api/v1/models/${root.dataset.model}/finetune/${root.dataset.instance}`;
    const card = root.querySelector("[data-task]");
    const tick = async () => {
      let instance;
      try {
        instance = await getJSON(url);
      } catch (_) {
        setTimeout(tick, POLL_MS * 2);
        return;
      }
      setField(root, "instance-status", say(words, instance.status));
      const start = root.querySelector("#start-training");
      const stop = root.querySelector("#stop-training");
      if (start) start.disabled = instance.status !== "Stopped";
      if (stop) stop.disabled = instance.status === "Stopped";
      const run = instance.last_run;
      if (run && card && String(run.id) === card.dataset.task) {
        updateCard(card, run, words);
        await updateLog(card, run).catch(() => {});
      }
      if (run && !ENDED.includes(run.state)) setTimeout(tick, POLL_MS);
    };
    if (card) tick();
  }

  // An endpoint starting (a loaded model, a deployed task): the page shows its chat once it runs.
  function waitForEndpoints() {
    const waiting = [...document.querySelectorAll("[data-wait-endpoint]")];
    if (!waiting.length) return;
    const tick = async () => {
      const states = await Promise.all(waiting.map((el) => getJSON(el.dataset.waitEndpoint).then((d) => d.state, () => "")));
      if (states.some((state) => ["running", "failed", "stopped"].includes(state))) {
        location.reload();
        return;
      }
      setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }

  // A task's training and evaluation files are offered from its dataset once it is typed.
  async function offerFiles(input) {
    const fields = input.closest("[data-task-fields]");
    const list = fields && fields.querySelector("[data-files]");
    const name = input.value.trim();
    if (!list || !/^[^/\s]+\/[^/\s]+$/.test(name)) return;
    try {
      const found = await getJSON(`/api/v1/datasets/${name}/finetune/files`);
      list.replaceChildren(...found.map((path) => {
        const option = document.createElement("option");
        option.value = path;
        return option;
      }));
    } catch (_) {
      list.replaceChildren();  // no such dataset (yet): the form's refusal will say so
    }
  }

  function setupTaskForm(form) {
    form.addEventListener("change", (event) => {
      if (event.target.matches("[data-dataset-input]")) offerFiles(event.target);
    });
    form.querySelectorAll("[data-dataset-input]").forEach((input) => offerFiles(input));
    const list = form.querySelector("[data-tasks]");
    const template = form.querySelector("template[data-task-template]");
    const add = form.querySelector("[data-add-task]");
    if (!list || !template || !add) return;
    add.addEventListener("click", () => {
      const index = list.querySelectorAll("[data-task-fields]").length;
      if (index >= 10) return;
      const html = template.innerHTML.replaceAll("task-99-", `task-${index}-`).replaceAll("files-99", `files-${index}`);
      const holder = document.createElement("div");
      holder.innerHTML = html;  // the page's own template, no user text
      const fields = holder.firstElementChild;
      fields.querySelector("[data-task-number]").textContent = String(index + 1);
      list.append(fields);
      fields.querySelector("input").focus();
    });
  }

  document.querySelectorAll("section[data-experiment]").forEach(setupExperiment);
  document.querySelectorAll("section[data-instance]").forEach(setupInstance);
  document.querySelectorAll("#experiment-form").forEach(setupTaskForm);
  waitForEndpoints();
})();
