/* huzhu — the little the pages do in the browser; every page works without it.
   1. The menu on a phone: the main navigation folds behind a "Menu" button (aria-expanded).
   2. Forms that depend on a choice: an element with data-for="a b" is shown only while the checked
      radio of its group (data-group) has one of those values; its fields are disabled while hidden,
      so a hidden field is never sent. */
document.documentElement.classList.replace("no-js", "js");

document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector(".menu-button");
  var nav = document.getElementById("main-nav");
  if (button && nav) {
    button.hidden = false;
    var setOpen = function (open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    };
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        setOpen(false);
        button.focus();
      }
    });
  }

  var groups = {};
  document.querySelectorAll("[data-for][data-group]").forEach(function (el) {
    (groups[el.getAttribute("data-group")] = groups[el.getAttribute("data-group")] || []).push(el);
  });
  Object.keys(groups).forEach(function (group) {
    var radios = document.querySelectorAll('input[type="radio"][name="' + group + '"]');
    var update = function () {
      var checked = document.querySelector('input[type="radio"][name="' + group + '"]:checked');
      var value = checked ? checked.value : "";
      groups[group].forEach(function (el) {
        var show = value !== "" && el.getAttribute("data-for").split(" ").indexOf(value) >= 0;
        el.hidden = !show;
        el.querySelectorAll("input, select, textarea").forEach(function (field) { field.disabled = !show; });
      });
    };
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  });
});
