// Form helpers every page may load: focus the error summary; filter boxes over checkbox lists.
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  if (summary && document.activeElement !== summary) { summary.focus(); }

  // A link of the summary moves focus to its field (not only scrolls), as the GOV.UK pattern does.
  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) { return; }
      var id = link.getAttribute("href").slice(1);
      // A choice question is linked by its name: its fieldset is "<name>-group".
      var target = document.getElementById(id) || document.getElementById(id + "-group");
      if (!target) { return; }
      event.preventDefault();
      var control = target.matches("fieldset") ? target.querySelector("input, select, textarea") : target;
      target.scrollIntoView({ block: "center" });
      (control || target).focus({ preventScroll: true });
    });
  }

  document.querySelectorAll("[data-checkbox-list]").forEach(function (list) {
    var box = list.querySelector(".checkbox-filter");
    var input = list.querySelector("[data-checkbox-filter]");
    var none = list.querySelector("[data-checkbox-none]");
    var items = Array.prototype.slice.call(list.querySelectorAll(".checkbox-options li"));
    if (!box || !input || items.length < 6) { return; }  // a short list needs no filter
    box.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.trim().toLowerCase();
      var shown = 0;
      items.forEach(function (item) {
        var match = !words || item.textContent.toLowerCase().indexOf(words) !== -1;
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      if (none) { none.hidden = shown > 0; }
    });
    // Enter in the filter must not submit the whole form.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
  });
})();
