// interview-guard serve, job page: poll the scan's status, reload when it has ended.
(function () {
  var box = document.getElementById('job');
  var id = box.getAttribute('data-job-id');
  var bar = document.getElementById('scan-progress');
  var stage = document.getElementById('job-stage');
  var status = document.getElementById('job-status');
  var delay = 700;
  function poll() {
    fetch('/api/jobs/' + id, {headers: {'Accept': 'application/json'}, cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (j) {
        status.textContent = j.status; status.className = 'status status-' + j.status;
        stage.textContent = j.stage || '';
        bar.value = Math.round(100 * (j.progress || 0));
        document.getElementById('job-percent').textContent = Math.round(100 * (j.progress || 0)) + ' %';
        if (j.status === 'done' || j.status === 'failed' || j.status === 'interrupted') { window.location.reload(); return; }
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, delay);
})();
