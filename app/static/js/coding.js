// The coding workbench's keyboard: type to filter the codes, digits toggle the top suggestions, Enter
// confirms and goes to the next answer; selecting text fills the supporting span. The page works without it.
(function () {
  "use strict";
  var form = document.querySelector("[data-coding-form]");
  if (!form) { return; }
  var filter = form.querySelector("[data-code-filter]");
  var list = form.querySelector("[data-code-list]");
  var text = document.querySelector("[data-answer-text]");
  var span = form.querySelector("input[name='span']");

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "checkbox"));
  }

  if (filter && list) {
    filter.addEventListener("input", function () {
      var needle = filter.value.trim().toLowerCase();
      list.querySelectorAll("[data-code-text]").forEach(function (label) {
        label.hidden = needle !== "" && label.dataset.codeText.indexOf(needle) === -1;
      });
    });
    filter.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      var visible = Array.prototype.filter.call(list.querySelectorAll("[data-code-text]"), function (l) { return !l.hidden; });
      if (filter.value.trim() !== "" && visible.length > 0) {
        // Enter in the filter ticks the first match; Enter again (empty filter) confirms.
        event.preventDefault();
        visible[0].querySelector("input").checked = true;
        filter.value = "";
        filter.dispatchEvent(new Event("input"));
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (/^[1-9]$/.test(event.key)) {
      var box = form.querySelector('input[data-digit="' + event.key + '"]');
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    } else if (event.key === "Enter") {
      // A button of another form (Skip, Not codable) does what it says.
      if (event.target.form && event.target.form !== form) { return; }
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "/" && filter) {
      event.preventDefault();
      filter.focus();
    }
  });

  if (text && span) {
    document.addEventListener("selectionchange", function () {
      var selection = document.getSelection();
      if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return; }
      var range = selection.getRangeAt(0);
      if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) { return; }
      var before = document.createRange();
      before.setStart(text, 0);
      before.setEnd(range.startContainer, range.startOffset);
      var start = before.toString().length;
      span.value = start + "-" + (start + range.toString().length);
    });
  }
})();
