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

  // Until a user chooses a time zone, their browser's is theirs: posted once when it differs.
  var root = document.documentElement;
  if (root.dataset.timeZoneUrl && window.Intl && window.fetch) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && zone !== root.dataset.timeZone) {
      var data = new FormData();
      data.append("timezone", zone);
      data.append("csrf_token", root.dataset.csrf);
      fetch(root.dataset.timeZoneUrl, { method: "POST", body: data, credentials: "same-origin" })
        .catch(function () { return null; });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A page showing work in progress (an import) reloads itself; without JS it has a Refresh link.
    var progress = document.querySelector("[data-refresh-after]");
    if (progress) {
      window.setTimeout(function () { window.location.reload(); },
                        1000 * Number(progress.getAttribute("data-refresh-after")));
    }
    // Opening one menu of the row closes the others.
    document.querySelectorAll("details.nav-menu").forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) { return; }
        document.querySelectorAll("details.nav-menu").forEach(function (other) {
          if (other !== menu) { other.open = false; }
        });
      });
    });
    // A scroll box a template left unlabelled still gets a keyboard stop and a name (its heading's, after
    // "Table:" as in the table_region macro, so it never repeats the name of the section around it).
    document.querySelectorAll(".overflow-auto, .table-scroll").forEach(function (box) {
      if (!box.hasAttribute("tabindex")) { box.tabIndex = 0; }
      if (!box.hasAttribute("role")) { box.setAttribute("role", "region"); }
      if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
        var caption = box.querySelector("caption");
        var heading = box.previousElementSibling;
        while (heading && !/^H[1-6]$/.test(heading.tagName)) { heading = heading.previousElementSibling; }
        var name = caption ? caption.textContent : (heading ? heading.textContent : "");
        box.setAttribute("aria-label", ("Table: " + name.trim()).trim().replace(/:$/, ""));
      }
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
