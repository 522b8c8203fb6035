// The portal's only script: theme switching, the phone header's menu, copy buttons and self-submitting selects.
// Loaded from /static (the Content-Security-Policy forbids inline scripts).
(function () {
  const root = document.documentElement;
  const saved = localStorage.getItem("theme");
  if (saved) root.dataset.theme = saved;

  // On narrow screens the header's links sit behind a menu button; its aria-expanded is the state
  // that app.css shows or hides the menu by, so assistive technology hears what the eye sees.
  const menuButton = document.querySelector("[data-menu-toggle]");
  const openMenu = (open) => menuButton.setAttribute("aria-expanded", open ? "true" : "false");
  if (menuButton) {
    menuButton.addEventListener("click", () => openMenu(menuButton.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
        openMenu(false);
        menuButton.focus();
      }
    });
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-theme-toggle]");
    if (toggle) {
      const dark = root.dataset.theme === "dark" ||
        (!root.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
      root.dataset.theme = dark ? "light" : "dark";
      localStorage.setItem("theme", root.dataset.theme);
      return;
    }
    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const text = copy.dataset.copy;
      const done = () => {
        const label = copy.textContent;
        copy.textContent = "✓";
        copy.dataset.copied = "true";
        setTimeout(() => { copy.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, done);
      } else {
        const area = document.createElement("textarea");
        area.value = text;
        document.body.appendChild(area);
        area.select();
        document.execCommand("copy");
        area.remove();
        done();
      }
    }
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  // Forms that ask before they act (deleting a file).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Uploads: files chosen or dropped (folders keep their relative paths), sent in one request with a
  // progress bar; the server answers where to go next.
  const uploadForm = document.querySelector("form[data-upload]");
  if (uploadForm) {
    const chosen = [];
    const list = uploadForm.querySelector("[data-chosen]");
    const zone = uploadForm.querySelector("[data-dropzone]");
    const input = uploadForm.querySelector("[data-file-input]");
    const bar = uploadForm.querySelector("[data-progress]");
    const barText = uploadForm.querySelector("[data-progress-text]");
    const error = uploadForm.querySelector("[data-error]");

    const show = () => {
      list.replaceChildren(...chosen.map(({ file, path }) => {
        const item = document.createElement("li");
        const size = window.csghubSpeaker(uploadForm).say("{size} bytes", { size: file.size.toLocaleString() });
        item.textContent = `${path} (${size})`;
        return item;
      }));
    };
    const add = (file, path) => { chosen.push({ file, path: path || file.name }); show(); };

    const walk = (entry, prefix) => new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((file) => { add(file, prefix + file.name); resolve(); }, () => resolve());
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries((batch) => {
          if (!batch.length) {
            Promise.all(all.map((child) => walk(child, `${prefix}${entry.name}/`))).then(resolve);
            return;
          }
          all.push(...batch);
          next();
        }, () => resolve());
        next();
      } else {
        resolve();
      }
    });

    input.addEventListener("change", () => { for (const file of input.files) add(file); });
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      const items = [...(event.dataTransfer.items || [])];
      const entries = items.map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
      if (entries.length) {
        entries.forEach((entry) => walk(entry, ""));
      } else {
        for (const file of event.dataTransfer.files) add(file);
      }
    });

    uploadForm.addEventListener("submit", (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!chosen.length) {
        error.textContent = window.csghubSpeaker(uploadForm).server("Choose or drop at least one file");
        error.hidden = false;
        return;
      }
      const button = uploadForm.querySelector("button[type=submit]");
      button.disabled = true;
      bar.hidden = false;
      const report = (what, fraction) => {
        bar.value = Math.round(fraction * 100);
        barText.textContent = `${what} — ${bar.value}%`;
      };
      // upload.js: large files through the LFS batch API in parts, then one commit.
      window.csghubUpload(uploadForm, chosen, report).then((location) => {
        window.location = location;
      }, (failure) => {
        error.textContent = failure.message;
        error.hidden = false;
        button.disabled = false;
      });
    });
  }
})();

