// Live preview of a campaign: its reach and its messages, re-rendered by the server as the admin types
// (debounced). Without JavaScript the page shows both as of the last save.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var box = document.getElementById("campaign-preview");
  var messages = document.getElementById("template-preview");
  if (!form || !box) { return; }
  var timer = null;
  var latest = 0;

  function setText(name, value) {
    var node = box.querySelector('[data-preview="' + name + '"]');
    if (node) { node.textContent = String(value); }
  }

  function refresh() {
    var ticket = ++latest;
    fetch(box.dataset.url, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || ticket !== latest) { return; }  // an older answer must not overwrite a newer one
        ["deals", "contacts", "eligible", "suppressed"].forEach(function (key) { setText(key, data[key]); });
        setText("no-rate", data.no_rate);
        setText("currency", data.currency || "");
        var note = box.querySelector('[data-preview="amount-note"]');
        if (note) { note.hidden = !data.currency; }  // shown with an amount rule only
        var list = box.querySelector('[data-preview="reasons"]');
        list.replaceChildren();
        Object.keys(data.by_reason).sort().forEach(function (reason) {
          var item = document.createElement("li");
          item.textContent = (data.reason_labels[reason] || reason) + ": " + data.by_reason[reason];
          list.appendChild(item);
        });
        if (messages && typeof data.messages_html === "string") {
          // Rendered and escaped by the server's Jinja template, the same one the page uses on save.
          messages.innerHTML = data.messages_html;
        }
      })
      .catch(function () { /* keep the last preview shown */ });
  }

  function schedule(event) {
    if (event && event.target && event.target.hasAttribute("data-checkbox-filter")) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
