// The caller's desk: everything typed autosaved, conditional questions live, the contact's clock,
// keyboard shortcuts and their "?" list. Every part enhances a page that works without JavaScript.
// A file, not an inline script: the Content-Security-Policy allows no inline JavaScript.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(target.type) || tag === "TEXTAREA" || tag === "SELECT";
  }

  var next = document.getElementById("next-call");
  var form = document.getElementById("call-form");
  var help = document.getElementById("shortcuts-help");
  var helpOpen = document.getElementById("shortcuts-open");
  var submitting = false;

  // ---------------------------------------------------------------------------------- shortcuts
  function showHelp() {
    if (help && !help.open && help.showModal) { help.showModal(); }
  }
  if (help && helpOpen && help.showModal) {
    helpOpen.hidden = false;
    helpOpen.addEventListener("click", showHelp);
    document.getElementById("shortcuts-close").addEventListener("click", function () { help.close(); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || (help && help.open)) {
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      showHelp();
      return;
    }
    if (event.key === "n" && next) {
      event.preventDefault();
      next.form.requestSubmit(next);
      return;
    }
    if (event.key === "c") {
      var dial = document.getElementById("dial");
      if (dial && dial.form) {
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

  if (!form) {
    return;
  }

  // ---------------------------------------------------------- conditional questions, live
  function answerMatches(name, expected) {
    var wanted = expected.trim().toLowerCase();
    var found = false;
    form.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      var wrapper = input.closest("[data-show-if]");
      if (wrapper && wrapper.hidden) { return; }  // a hidden answer decides nothing
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) { return; }
      if (input.value.trim().toLowerCase() === wanted) { found = true; }
    });
    return found;
  }

  function applyConditions() {
    // In page order, so a question hidden earlier hides the ones that depend on it.
    form.querySelectorAll("[data-show-if]").forEach(function (wrapper) {
      wrapper.hidden = !answerMatches(wrapper.dataset.showIf, wrapper.dataset.showIfValue);
    });
  }
  applyConditions();

  // ------------------------------------------------------------------------ the contact's clock
  var clock = document.getElementById("contact-clock");
  function duration(ms) {
    var minutes = Math.max(Math.floor(ms / 60000), 0);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60;
    if (days) { return days + " d " + hours + " h"; }
    return hours ? hours + " h " + (rest < 10 ? "0" : "") + rest : rest + " min";
  }
  function tick() {
    var time;
    try {
      time = new Intl.DateTimeFormat("en-GB", {
        timeZone: clock.dataset.zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).format(new Date());
    } catch (error) {
      return;  // a zone this browser does not know: the server's text stays
    }
    var open = clock.dataset.open === "1";
    var state = "window " + (open ? "open" : "closed");
    if (clock.dataset.changesAt) {
      var left = Date.parse(clock.dataset.changesAt) - Date.now();
      state = left > 0 ? "window " + (open ? "closes" : "opens") + " in " + duration(left)
                       : "window " + (open ? "closed" : "open") + " now";
    }
    clock.textContent = time + " in " + clock.dataset.place + " · " + state;
  }
  if (clock && window.Intl) {
    tick();
    setInterval(tick, 20000);
  }

  // ------------------------------------------------- a callback time, shown in the other zone too
  var other = document.getElementById("callback-other");
  var when = document.getElementById("callback_at");
  function offset(zone, instant) {  // the zone's offset from UTC at `instant`, in ms
    var parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric"
    }).formatToParts(new Date(instant)).forEach(function (part) { parts[part.type] = Number(part.value); });
    return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - instant;
  }
  function showOther() {
    try {
      convert();
    } catch (error) {
      other.textContent = "";  // a zone this browser does not know
    }
  }
  function convert() {
    var match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(when.value);
    var mine = form.querySelector('input[name="callback_zone"][value="mine"]');
    var theirs = other.dataset.contactZone;
    if (!match || !theirs) { other.textContent = ""; return; }
    var from = mine && mine.checked ? other.dataset.myZone : theirs;
    var to = from === theirs ? other.dataset.myZone : theirs;
    var wall = Date.UTC(+match[1], match[2] - 1, +match[3], +match[4], +match[5]);
    var instant = wall - offset(from, wall);
    instant = wall - offset(from, instant);  // once more, in case the guess crossed a change of offset
    var text = new Intl.DateTimeFormat("en-GB", {
      timeZone: to, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23"
    }).format(new Date(instant));
    other.textContent = "That is " + text + (to === theirs ? " in " + other.dataset.contactPlace : " your time") + ".";
  }
  if (other && when && window.Intl) {
    showOther();
    form.addEventListener("input", function (event) { if (event.target === when) { showOther(); } });
    form.addEventListener("change", function (event) {
      if (event.target === when || event.target.name === "callback_zone") { showOther(); }
    });
  }

  // ------------------------------------------------------------------------------------ autosave
  if (!form.dataset.autosave || !window.fetch) {
    return;
  }
  var status = document.getElementById("autosave-status");
  var dirty = false;
  var saving = false;
  var timer = null;

  function say(text) {
    if (status) { status.textContent = text; }
  }

  function save(keepalive) {
    if (!dirty || submitting) {
      return;
    }
    if (saving) {  // one request at a time; the change is saved right after
      clearTimeout(timer);
      timer = setTimeout(save, 300);
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
      credentials: "same-origin",
      keepalive: keepalive === true
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    }).then(function () {
      if (!dirty) { say("Saved."); }
    }).catch(function () {
      dirty = true;
      say("Not saved yet: use Save.");
    }).then(function () {
      saving = false;
    });
  }

  function changed(event) {
    if (event.target.form !== form) {
      return;
    }
    if (event.target.closest(".call-script")) {
      applyConditions();
    }
    dirty = true;
    say("Saving…");
    clearTimeout(timer);
    timer = setTimeout(save, 600);  // debounced while typing...
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("focusout", function () {  // ...and at once when a field is left
    if (dirty) {
      clearTimeout(timer);
      save();
    }
  });
  form.addEventListener("submit", function () {
    submitting = true;  // the submit carries everything; no autosave may land after it
    clearTimeout(timer);
  });
  window.addEventListener("pageshow", function () { submitting = false; });
  // A long call with nothing typed still keeps the lease: the save renews it every minute.
  setInterval(function () {
    dirty = true;
    save();
  }, 60000);
  window.addEventListener("pagehide", function () { save(true); });
})();
