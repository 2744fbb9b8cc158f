// The approval page: "all" and "none" tick or untick the rows of the page, and the button says how many
// will be contacted and how many left out. Without JavaScript the links reload the page ticked or not.
(function () {
  "use strict";
  var form = document.getElementById("approval-form");
  if (!form) { return; }
  var button = form.querySelector("[data-approval-count]");
  var boxes = form.querySelectorAll('input[name="approve"]');

  function update() {
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) { ticked += 1; } });
    var left = boxes.length - ticked;
    button.textContent = "Review: contact " + ticked + (left ? ", leave out " + left : "");
  }

  form.querySelectorAll("[data-select]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var all = link.getAttribute("data-select") === "all";
      boxes.forEach(function (box) { box.checked = all; });
      update();
    });
  });
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
