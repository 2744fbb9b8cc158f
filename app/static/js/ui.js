// Small comforts on top of pages that work without JavaScript: menus close like menus, messages close.
(function () {
  "use strict";
  var menus = function () { return document.querySelectorAll("details.nav-menu, details.nav-narrow"); };

  document.addEventListener("click", function (event) {
    menus().forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    menus().forEach(function (menu) {
      if (menu.open && menu.contains(document.activeElement)) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Opening one menu of the row closes the others.
    document.querySelectorAll("details.nav-menu").forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) { return; }
        document.querySelectorAll("details.nav-menu").forEach(function (other) {
          if (other !== menu) { other.open = false; }
        });
      });
    });
    document.querySelectorAll(".flashes .flash").forEach(function (flash) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "flash-close";
      button.setAttribute("aria-label", "Dismiss this message");
      button.textContent = "×";
      button.addEventListener("click", function () { flash.remove(); });
      flash.appendChild(button);
    });
  });
})();
