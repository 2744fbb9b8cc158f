// The review queue: the bulk bar shows only while rows are ticked, and says how many (the page works
// without JavaScript: the bar is then always there).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) { return; }
    var count = bar.querySelector("[data-ticked-count]");
    var boxes = document.querySelectorAll("input[type=checkbox][form=" + bar.id + "]");
    var update = function () {
      var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; }).length;
      bar.hidden = ticked === 0;
      count.textContent = ticked ? "(" + ticked + ")" : "";
    };
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  });
})();
