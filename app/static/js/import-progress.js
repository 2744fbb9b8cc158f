// Moves the import's progress bar until the batch is done, then reloads the page to show the result.
(function () {
  var bar = document.getElementById('import-progress');
  if (!bar || !bar.dataset.progressUrl) { return; }
  function poll() {
    fetch(bar.dataset.progressUrl).then(function (r) { return r.json(); }).then(function (p) {
      bar.value = p.percent;
      if (p.status === 'running') { setTimeout(poll, 1000); } else { window.location.reload(); }
    });
  }
  setTimeout(poll, 1000);
})();
