// A mirrored repository's page: while its sync task is queued or running, the page reads itself again
// and shows the panel's new state and progress; once the task ends it reloads, so the synced README and
// files appear. Loaded from /static: the Content-Security-Policy forbids inline scripts.
(function () {
  const panel = document.getElementById("mirror-panel");
  if (!panel || panel.dataset.active !== "true") return;
  const refresh = () => {
    if (document.hidden) { // a tab in the background asks again later
      setTimeout(refresh, 5000);
      return;
    }
    fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("mirror-panel");
        if (!fresh) return;
        if (fresh.dataset.active !== "true") {
          location.reload(); // finished, failed or cancelled: the whole page as it is now
          return;
        }
        document.getElementById("mirror-panel").replaceWith(document.adoptNode(fresh));
      })
      .catch(() => {})
      .finally(() => setTimeout(refresh, 2000));
  };
  setTimeout(refresh, 2000);
})();
