// The call queue: answers autosaved as the caller types, and keyboard shortcuts.
// A file, not an inline script: the Content-Security-Policy allows no inline JavaScript.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(target.type) || tag === "TEXTAREA" || tag === "SELECT";
  }

  // Next call: "n" on the queue page.
  var next = document.getElementById("next-call");
  var form = document.getElementById("call-form");
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key === "n" && next) {
      event.preventDefault();
      next.form.requestSubmit(next);
      return;
    }
    if (event.key === "c") {
      var dial = document.getElementById("dial");
      if (dial) {
        event.preventDefault();
        dial.form.requestSubmit(dial);
      }
      return;
    }
    if (form) {
      var button = form.querySelector('button[name="disposition"][data-key="' + event.key + '"]');
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
    }
  });

  if (!form || !form.dataset.autosave || !window.fetch) {
    return;
  }
  var status = document.getElementById("autosave-status");
  var dirty = false;
  var saving = false;
  var timer = null;

  function save() {
    if (!dirty || saving) {
      return;
    }
    dirty = false;
    saving = true;
    var data = new FormData(form);
    data.delete("disposition");
    fetch(form.dataset.autosave, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    }).then(function () {
      if (status) {
        status.textContent = "Answers saved.";
      }
    }).catch(function () {
      dirty = true;
      if (status) {
        status.textContent = "Not saved yet: use Save answers.";
      }
    }).then(function () {
      saving = false;
    });
  }

  function changed(event) {
    if (!event.target.closest || !event.target.closest(".call-script")) {
      return;
    }
    dirty = true;
    if (status) {
      status.textContent = "Saving…";
    }
    clearTimeout(timer);
    timer = setTimeout(save, 400);
  }
  form.addEventListener("change", changed);
  form.addEventListener("input", changed);
  // And on a timer, in case a change event never came (a field still focused).
  setInterval(save, 10000);
  // A long call with nothing typed still keeps the lease: the save renews it every minute.
  setInterval(function () {
    dirty = true;
    save();
  }, 60000);
  window.addEventListener("pagehide", save);
})();
