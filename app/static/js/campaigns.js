// Live preview of a campaign's reach: re-count on every change of the form (the page works without it).
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var box = document.getElementById("campaign-preview");
  if (!form || !box) { return; }
  var timer = null;

  function setText(name, value) {
    var node = box.querySelector('[data-preview="' + name + '"]');
    if (node) { node.textContent = String(value); }
  }

  function refresh() {
    fetch(box.dataset.url, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        ["deals", "contacts", "eligible", "suppressed"].forEach(function (key) { setText(key, data[key]); });
        var list = box.querySelector('[data-preview="reasons"]');
        list.replaceChildren();
        Object.keys(data.by_reason).sort().forEach(function (reason) {
          var item = document.createElement("li");
          item.textContent = (data.reason_labels[reason] || reason) + ": " + data.by_reason[reason];
          list.appendChild(item);
        });
      })
      .catch(function () { /* keep the last numbers shown */ });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
