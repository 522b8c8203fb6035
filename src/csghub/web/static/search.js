// The header search's quick results: as one types, the best few matches of every kind from
// /api/quicksearch in a list under the box. Arrows move through it, Enter opens the chosen one (or,
// with none chosen, submits the form to the full results page, as without this script), Escape closes.
(function () {
  const form = document.querySelector("header form.search");
  const box = form && form.querySelector("[data-quicksearch]");
  if (!box) return;
  const input = form.querySelector("input[name=search]");
  const list = box.querySelector("ul");
  const words = box.dataset;
  const kinds = ["models", "datasets", "spaces", "codes", "users", "orgs"];
  const WAIT_MS = 150;
  let timer = 0;
  let pending = null;
  let active = -1;

  input.setAttribute("role", "combobox");
  input.setAttribute("autocomplete", "off");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");

  const options = () => Array.from(list.querySelectorAll("[role=option]"));
  const open = (shown) => {
    box.hidden = !shown;
    input.setAttribute("aria-expanded", shown ? "true" : "false");
    if (!shown) choose(-1);
  };
  const choose = (index) => {
    const all = options();
    active = index;
    all.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const item = (href, label, note, index) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    li.id = `quicksearch-${index}`;
    const link = document.createElement("a");
    link.href = href;
    link.tabIndex = -1;
    link.textContent = label;
    li.appendChild(link);
    if (note) {
      const small = document.createElement("span");
      small.className = "quicksearch-note";
      small.textContent = note;
      li.appendChild(small);
    }
    return li;
  };

  const show = (answer, text) => {
    const rows = [];
    let index = 0;
    for (const kind of kinds) {
      const found = answer[kind] || [];
      if (!found.length) continue;
      const head = document.createElement("li");
      head.setAttribute("role", "presentation");
      head.className = "quicksearch-kind";
      const count = answer[`${kind}Count`];
      head.textContent = count === undefined ? words[kind] : `${words[kind]} · ${count}`;
      rows.push(head);
      for (const hit of found) {
        if (kind === "users" || kind === "orgs") {
          const name = hit.user || hit.name;
          rows.push(item(`/${encodeURIComponent(name)}`, name, hit.fullname, index++));
        } else {
          rows.push(item(hit.url, hit.id, hit.private ? words.private : "", index++));
        }
      }
    }
    if (!index) {
      const none = document.createElement("li");
      none.setAttribute("role", "presentation");
      none.className = "quicksearch-none";
      none.textContent = words.none;
      rows.push(none);
    }
    const all = item(`/search?q=${encodeURIComponent(text)}`, `${words.all}: “${text}”`, "", index);
    all.classList.add("quicksearch-all");
    rows.push(all);
    // A later answer (the same query asked again, or a slower one) keeps what the arrows had chosen
    // when that result is still there, so the choice does not jump back to the box under the keys.
    const chosen = active >= 0 && options()[active] ? options()[active].querySelector("a").href : null;
    list.replaceChildren(...rows);
    open(true);
    choose(chosen ? options().findIndex((option) => option.querySelector("a").href === chosen) : -1);
  };

  const ask = () => {
    const text = input.value.trim();
    if (pending) pending.abort();
    if (!text) {
      open(false);
      return;
    }
    pending = new AbortController();
    fetch(`/api/quicksearch?q=${encodeURIComponent(text)}`, { signal: pending.signal, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => {
        // A slower answer to an older query must not replace a newer one.
        if (answer && input.value.trim() === text) show(answer, text);
      })
      .catch(() => {});
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, WAIT_MS);
  });
  input.addEventListener("keydown", (event) => {
    const all = options();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (box.hidden) {
        if (all.length) open(true);
        return;
      }
      event.preventDefault();
      // Past either end the box itself is chosen again (-1), as in a browser's own suggestions.
      let next = active + (event.key === "ArrowDown" ? 1 : -1);
      if (next >= all.length) next = -1;
      if (next < -1) next = all.length - 1;
      choose(next);
    } else if (event.key === "Enter" && !box.hidden && active >= 0 && all[active]) {
      event.preventDefault();
      window.location.assign(all[active].querySelector("a").href);
    } else if (event.key === "Escape" && !box.hidden) {
      event.preventDefault();
      event.stopPropagation();
      open(false);
    }
  });
  // Choosing with the mouse: the link's own click does it; a press elsewhere closes the list.
  document.addEventListener("mousedown", (event) => {
    if (!form.contains(event.target)) open(false);
  });
  input.addEventListener("focus", () => {
    if (list.children.length && input.value.trim()) open(true);
  });
})();
