// interview-guard serve, upload page: drop zone, size check, upload with progress (plain form post without it).
(function () {
  var form = document.getElementById('upload-form');
  var maxBytes = Number(form.getAttribute('data-max-bytes'));
  var zone = document.getElementById('drop-zone');
  var statusEl = document.getElementById('upload-status');
  var bar = document.getElementById('upload-progress');
  var button = document.getElementById('submit');
  var inputs = {video: form.elements['video'], audio: form.elements['audio'], keystrokes: form.elements['keystrokes'], session: form.elements['session'], enrolment_photo: form.elements['enrolment_photo']};
  var exts = JSON.parse(form.getAttribute('data-extensions'));
  function say(msg, isError) { statusEl.textContent = msg; statusEl.className = isError ? 'error' : ''; }
  function roleOf(name) {
    var n = name.toLowerCase();
    for (var role in exts) { for (var i = 0; i < exts[role].length; i++) { if (n.endsWith(exts[role][i])) return role; } }
    return null;
  }
  function mb(n) { return (n / 1048576).toFixed(1) + ' MB'; }
  ['dragenter', 'dragover'].forEach(function (t) {
    zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.add('over'); });
  });
  zone.addEventListener('dragleave', function () { zone.classList.remove('over'); });
  zone.addEventListener('drop', function (ev) {
    ev.preventDefault(); zone.classList.remove('over');
    var unused = [], used = [], twice = [], taken = {};
    Array.prototype.forEach.call(ev.dataTransfer.files, function (f) {
      var role = roleOf(f.name);
      if (!role) { unused.push(f.name); return; }
      if (taken[role]) { twice.push(f.name + ' (a second ' + role.replace('_', ' ') + ' file; ' + taken[role] + ' is used)'); return; }
      var dt = new DataTransfer(); dt.items.add(f); inputs[role].files = dt.files; used.push(f.name); taken[role] = f.name;
    });
    say((used.length ? 'Ready: ' + used.join(', ') + '. ' : '') +
        (unused.length ? 'Not a recording, audio file, keystroke log, session.json or photo: ' + unused.join(', ') + '. ' : '') +
        (twice.length ? 'Left out: ' + twice.join(', ') + '.' : ''), unused.length + twice.length > 0);
  });
  form.addEventListener('submit', function (ev) {
    var total = 0;
    for (var role in inputs) { for (var i = 0; i < inputs[role].files.length; i++) { total += inputs[role].files[i].size; } }
    if (!inputs.video.files.length && !inputs.audio.files.length && !inputs.keystrokes.files.length) {
      ev.preventDefault(); say('Choose a recording (video or audio) or a keystroke log first.', true); return;
    }
    if (total > maxBytes) {
      ev.preventDefault(); say('The files add up to ' + mb(total) + ', more than the limit of ' + mb(maxBytes) + '.', true); return;
    }
    if (!window.XMLHttpRequest || !window.FormData) return;  // a plain form post still works
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    bar.hidden = false; bar.value = 0; button.disabled = true; say('Uploading…', false);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; say('Uploading… ' + Math.floor(100 * e.loaded / e.total) + ' %', false); }
    };
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) {}
      if (xhr.status >= 200 && xhr.status < 300 && data && data.url) { say('Uploaded; starting the scan…', false); window.location.assign(data.url); return; }
      button.disabled = false; bar.hidden = true;
      say((data && data.detail) ? data.detail : ('The upload failed (HTTP ' + xhr.status + ').'), true);
    };
    xhr.onerror = function () { button.disabled = false; bar.hidden = true; say('The upload failed: the connection was lost.', true); };
    xhr.send(new FormData(form));
  });
})();
