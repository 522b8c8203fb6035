// The dataset viewer tab: while the dataset converts (or waits for its first conversion), ask its status
// route how far it got and reload the page when the state changes (ready, failed, empty; converting after
// waiting). Everything else on the tab is plain links and forms.
(function () {
  const viewer = document.getElementById("viewer");
  const converting = document.querySelector("[data-converting]");
  if (!viewer || !converting) return;
  const initial = converting.dataset.state;
  const pending = (state) => state === "queued" || state === "running";
  const progress = converting.querySelector("progress");
  const text = document.getElementById("viewer-progress");
  const poll = () => {
    fetch(viewer.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then((response) => (response.ok ? response.json() : null))
      .then((status) => {
        if (!status) return setTimeout(poll, 5000);
        if (status.state !== initial && !(pending(initial) && pending(status.state))) {
          return window.location.reload();
        }
        if (progress && status.progress_total) {
          progress.max = status.progress_total;
          progress.value = status.progress_done;
          if (text) text.textContent = text.textContent.replace(/\d+(\D+)\d+/, `${status.progress_done}$1${status.progress_total}`);
        }
        return setTimeout(poll, initial === "absent" ? 5000 : 1000);
      }, () => setTimeout(poll, 5000));
  };
  setTimeout(poll, 1000);
})();
