// The dataset viewer tab: while the dataset converts, ask its status route how far it got and reload
// the page once the conversion has ended (ready, failed or empty). Everything else on the tab is plain
// links and forms.
(function () {
  const viewer = document.getElementById("viewer");
  const converting = document.querySelector("[data-converting]");
  if (!viewer || !converting) return;
  const progress = converting.querySelector("progress");
  const text = document.getElementById("viewer-progress");
  const poll = () => {
    fetch(viewer.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then((response) => (response.ok ? response.json() : null))
      .then((status) => {
        if (!status) return setTimeout(poll, 5000);
        if (status.state !== "queued" && status.state !== "running") return window.location.reload();
        if (progress && status.progress_total) {
          progress.max = status.progress_total;
          progress.value = status.progress_done;
          if (text) text.textContent = text.textContent.replace(/\d+([^\d]+)\d+/, `${status.progress_done}$1${status.progress_total}`);
        }
        return setTimeout(poll, 1000);
      }, () => setTimeout(poll, 5000));
  };
  setTimeout(poll, 1000);
})();
