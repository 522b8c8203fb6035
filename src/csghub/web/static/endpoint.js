// Endpoint pages: the creation form's tiers follow the chosen cluster; the Summary page keeps its state,
// replicas, events and metrics fresh (by reading the page again) and follows a replica's log live
// (the API's server-sent events). Loaded from /static: the Content-Security-Policy forbids inline scripts.
(function () {
  const clusterSelect = document.querySelector("[data-cluster-select]");
  const tierSelect = document.querySelector("[data-tier-select]");
  if (clusterSelect && tierSelect) {
    const filterTiers = () => {
      let firstShown = null;
      for (const option of tierSelect.options) {
        const shown = option.dataset.cluster === clusterSelect.value;
        option.hidden = !shown;
        option.disabled = !shown;
        if (shown && !firstShown) firstShown = option;
      }
      if (tierSelect.selectedOptions.length === 0 || tierSelect.selectedOptions[0].disabled) {
        if (firstShown) tierSelect.value = firstShown.value;
      }
    };
    clusterSelect.addEventListener("change", filterTiers);
    filterTiers();
  }

  const live = document.getElementById("endpoint-live");
  if (live) {
    const refresh = () => {
      if (document.hidden) { // a tab in the background asks again later
        setTimeout(refresh, 10000);
        return;
      }
      fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store" })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("endpoint-live");
          if (fresh) {
            live.innerHTML = fresh.innerHTML;
            live.dataset.moving = fresh.dataset.moving;
          }
        })
        .catch(() => {})
        .finally(() => setTimeout(refresh, live.dataset.moving === "true" ? 1500 : 10000));
    };
    setTimeout(refresh, live.dataset.moving === "true" ? 1500 : 10000);
  }

  const log = document.querySelector("pre.endpoint-log[data-log-url]");
  if (log) {
    const MAX_LINES = 2000;
    const choice = document.querySelector("[data-log-replica]");
    let source = null;
    let lines = [];
    const follow = () => {
      if (source) source.close();
      lines = []; // a new stream starts from the log's beginning
      const replica = choice ? choice.value : "0";
      source = new EventSource(log.dataset.logUrl + encodeURIComponent(replica));
      source.addEventListener("Container", (event) => {
        lines.push(event.data);
        if (lines.length > MAX_LINES) lines = lines.slice(-MAX_LINES);
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.textContent = lines.join("\n");
        if (atBottom) log.scrollTop = log.scrollHeight;
      });
      // A replica not started yet (or a stream that ended) is asked again a little later.
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) setTimeout(follow, 3000);
      });
    };
    if (choice) {
      choice.addEventListener("change", () => {
        log.textContent = log.dataset.logEmpty;
        follow();
      });
    }
    follow();
  }
})();
