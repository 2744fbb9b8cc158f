// The coding workbench's keyboard. `/` opens the filter; the matches are ranked label first, then code,
// then definition; ↑ ↓ move the highlight and Enter ticks the highlighted code only; Esc clears the filter.
// Digits toggle the top suggestions. Only Ctrl+Enter (⌘+Enter) or the button confirms and goes on: a stray
// Enter never submits. Selecting text fills the supporting span. The page works without it.
(function () {
  "use strict";
  var form = document.querySelector("[data-coding-form]");
  if (!form) { return; }
  var filter = form.querySelector("[data-code-filter]");
  var list = form.querySelector("[data-code-list]");
  var status = form.querySelector("[data-filter-status]");
  var text = document.querySelector("[data-answer-text]");
  var span = form.querySelector("input[name='span']");
  var HIGHLIGHT = "code-highlighted";

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "checkbox"));
  }

  function confirmKey(event) {
    return event.key === "Enter" && (event.ctrlKey || event.metaKey);
  }

  function say(message) {
    if (status) { status.textContent = message; }
  }

  if (filter && list) {
    var original = Array.prototype.slice.call(list.children);
    var rows = original.filter(function (el) { return el.hasAttribute("data-code-row"); });
    var groups = original.filter(function (el) { return el.hasAttribute("data-code-group"); });
    var ranked = [];
    var highlighted = -1;

    // 0: the label matches, 1: the code, 2: the definition; -1: no match.
    function rank(row, needle) {
      if (row.dataset.codeLabel.indexOf(needle) !== -1) { return 0; }
      if (row.dataset.codeKey.indexOf(needle) !== -1) { return 1; }
      if (row.dataset.codeDefinition.indexOf(needle) !== -1) { return 2; }
      return -1;
    }

    function highlight(index) {
      rows.forEach(function (row) { row.classList.remove(HIGHLIGHT); });
      highlighted = ranked.length ? Math.max(0, Math.min(index, ranked.length - 1)) : -1;
      if (highlighted === -1) {
        filter.removeAttribute("aria-activedescendant");
        return;
      }
      var row = ranked[highlighted];
      row.classList.add(HIGHLIGHT);
      filter.setAttribute("aria-activedescendant", row.id);
      row.scrollIntoView({ block: "nearest" });
      say(ranked.length + (ranked.length === 1 ? " code matches" : " codes match") + "; Enter ticks " +
        row.dataset.codeLabel + " (" + row.dataset.codeKey + ").");
    }

    function apply() {
      var needle = filter.value.trim().toLowerCase();
      if (needle === "") {
        ranked = [];
        original.forEach(function (el) { el.hidden = false; list.appendChild(el); });
        highlight(-1);
        say("");
        return;
      }
      var scored = [];
      rows.forEach(function (row, order) {
        var score = rank(row, needle);
        row.hidden = score === -1;
        if (score !== -1) { scored.push({ row: row, score: score, order: order }); }
      });
      scored.sort(function (a, b) { return a.score - b.score || a.order - b.order; });
      ranked = scored.map(function (item) { return item.row; });
      groups.forEach(function (group) { group.hidden = true; });
      ranked.forEach(function (row) { list.appendChild(row); });
      highlight(0);
      if (!ranked.length) { say("No code matches “" + filter.value.trim() + "”."); }
    }

    function clear() {
      filter.value = "";
      apply();
    }

    filter.addEventListener("input", apply);
    filter.addEventListener("keydown", function (event) {
      if (confirmKey(event)) { return; }  // the form's handler confirms
      if (event.key === "Enter") {
        event.preventDefault();  // never submits from the filter
        if (highlighted !== -1) {
          var box = ranked[highlighted].querySelector("input");
          box.checked = true;
          say("Ticked " + ranked[highlighted].dataset.codeLabel + ". Ctrl+Enter confirms.");
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        clear();
        filter.blur();
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(highlighted + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "/") {
        // `/` starts a new filter, even from inside the filter.
        event.preventDefault();
        filter.select();
      }
    });
  }

  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.target.tagName === "BUTTON" || event.target.tagName === "TEXTAREA") { return; }
    if (!confirmKey(event)) {
      // No implicit submission from a checkbox or the span field: confirming is Ctrl+Enter.
      event.preventDefault();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (confirmKey(event)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (/^[1-9]$/.test(event.key)) {
      var box = form.querySelector('input[data-digit="' + event.key + '"]');
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    } else if (event.key === "/" && filter) {
      event.preventDefault();
      filter.focus();
      filter.select();
    } else if (event.key === "Enter" && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
      say("Ctrl+Enter confirms the ticked codes.");
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
