// Space pages: while a space builds or wakes, its page reads itself again and shows the new state (and
// reloads once it runs, so the app's frame opens); the Logs tab follows the build and run logs live (the
// API's server-sent events). Loaded from /static: the Content-Security-Policy forbids inline scripts.
(function () {
  const live = document.getElementById("space-live");
  if (live && live.dataset.moving === "true") {
    const refresh = () => {
      if (document.hidden) { // a tab in the background asks again later
        setTimeout(refresh, 5000);
        return;
      }
      fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store" })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("space-live");
          if (!fresh) return;
          if (fresh.dataset.state !== live.dataset.state && fresh.dataset.moving !== "true") {
            location.reload(); // settled: running opens the app, a failure shows its reason
            return;
          }
          const status = document.getElementById("space-status");
          const freshStatus = fresh.querySelector("#space-status");
          if (status && freshStatus) status.replaceWith(freshStatus);
          live.dataset.state = fresh.dataset.state;
        })
        .catch(() => {})
        .finally(() => setTimeout(refresh, 2000));
    };
    setTimeout(refresh, 2000);
  }

  const MAX_LINES = 2000;
  for (const log of document.querySelectorAll("pre.space-log[data-log-url]")) {
    let source = null;
    let lines = [];
    const follow = () => {
      if (source) source.close();
      lines = []; // a new stream starts from the log's beginning
      source = new EventSource(log.dataset.logUrl);
      source.addEventListener("Container", (event) => { // one event per log line (api/compute_logs.py)
        lines.push(event.data);
        if (lines.length > MAX_LINES) lines = lines.slice(-MAX_LINES);
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.textContent = lines.join("\n");
        if (atBottom) log.scrollTop = log.scrollHeight;
      });
      // A stream that ended (its time is bounded; a restart begins a new run log) is read again from the
      // start a little later.
      const again = () => {
        source.close();
        setTimeout(follow, 3000);
      };
      source.addEventListener("end", again);
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) again();
      });
    };
    follow();
  }
})();
