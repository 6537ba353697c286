/* Mamori's page behaviour. Every page loads this file; no page has inline script or event
   handlers, which the Content-Security-Policy refuses. Behaviour is asked for with data-*
   attributes, and set up again for content htmx swaps in (the htmx:load event). */
(function () {
  "use strict";

  // Elements matching `selector` in `root`, `root` itself included.
  function within(root, selector) {
    var found = [];
    if (root.matches && root.matches(selector)) {
      found.push(root);
    }
    if (root.querySelectorAll) {
      found.push.apply(found, root.querySelectorAll(selector));
    }
    return found;
  }

  // A filter field with data-autosubmit reloads the list as soon as it changes.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) {
      field.form.submit();
    }
  });

  // A form with data-confirm is sent only once the question in it is answered yes.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // The menu button (shown on a phone) opens and closes the menu it controls.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest(".menu-toggle[aria-controls]");
    if (!toggle) {
      return;
    }
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (menu) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
  });

  // A link or button with data-print prints the page.
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-print]");
    if (trigger) {
      event.preventDefault();
      window.print();
    }
  });

  // A form with data-kind-settings shows only the fieldset (.kind-settings[data-kind]) of the
  // kind chosen in its select[name=kind].
  function kindSettings(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) {
      return;
    }
    function show() {
      form.querySelectorAll(".kind-settings").forEach(function (set) {
        set.hidden = set.dataset.kind !== kind.value;
      });
    }
    kind.addEventListener("change", show);
    show();
  }

  // A revealed secret (.revealed[data-hide-after]): copy it, hide it, and hide it by itself
  // after data-hide-after seconds, leaving data-hidden-text in its place.
  function revealedSecret(shown) {
    var box = shown.closest("#reveal-box") || shown;
    function hide() {
      if (!box.isConnected) {
        return;
      }
      box.innerHTML = "";
      var note = document.createElement("p");
      note.className = "muted";
      note.textContent = shown.dataset.hiddenText;
      box.appendChild(note);
    }
    var hideButton = shown.querySelector("[data-secret-hide]");
    var copyButton = shown.querySelector("[data-secret-copy]");
    var value = shown.querySelector("[data-secret-value]");
    if (hideButton) {
      hideButton.addEventListener("click", hide);
    }
    if (copyButton && value) {
      copyButton.addEventListener("click", function () {
        navigator.clipboard.writeText(value.textContent);
      });
    }
    window.setTimeout(hide, Number(shown.dataset.hideAfter) * 1000);
  }

  // In a form with data-client-scoped, the site and server choices (options with data-client)
  // list only the records of the client chosen in its select[name=client]; picking a site
  // (data-url, data-name) fills an empty URL (input[name=http_url]) and name (input[name=name]).
  function clientScoped(clientSelect) {
    var form = clientSelect.form;
    var scoped = Array.prototype.filter.call(form.querySelectorAll("select"), function (select) {
      return select.querySelector("option[data-client]");
    });
    function narrow() {
      scoped.forEach(function (select) {
        Array.prototype.forEach.call(select.querySelectorAll("option[data-client]"), function (option) {
          var other = option.dataset.client !== clientSelect.value;
          option.hidden = other;
          option.disabled = other;
          if (other && option.selected) {
            select.value = "";
          }
        });
      });
    }
    function fill(input, value) {
      if (input && value && (!input.value || input.dataset.filledFromSite === input.value)) {
        input.value = value;
        input.dataset.filledFromSite = value;
      }
    }
    scoped.forEach(function (select) {
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        if (option && option.dataset.url) {
          fill(form.querySelector("input[name=http_url]"), option.dataset.url);
          fill(form.querySelector("input[name=name]"), option.dataset.name);
        }
      });
    });
    clientSelect.addEventListener("change", narrow);
    narrow();
  }

  var setups = [
    ["form[data-kind-settings]", kindSettings],
    [".revealed[data-hide-after]", revealedSecret],
    ["form[data-client-scoped] select[name=client]", clientScoped],
  ];

  function setUp(root) {
    setups.forEach(function (pair) {
      within(root, pair[0]).forEach(function (element) {
        if (element.dataset.mamoriReady) {
          return;
        }
        element.dataset.mamoriReady = "1";
        pair[1](element);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      setUp(document);
    });
  } else {
    setUp(document);
  }
  document.addEventListener("htmx:load", function (event) {
    setUp(event.target);
  });

  // live (helper): a part of a page marked data-live asks for news by itself (hx-trigger
  // "every Ns"). While the tab is hidden it does not ask; when the tab shows again it asks at
  // once (the "mamori-visible" event in its hx-trigger).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (document.hidden && source && source.matches && source.matches("[data-live]")) {
      event.preventDefault();
    }
  });
  // An answer without the live part (the session ended: the sign-in page came back) leaves the
  // page as it is instead of blanking it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail && event.detail.elt;
    var xhr = event.detail && event.detail.xhr;
    if (source && source.matches && source.matches("[data-live]") && xhr &&
        xhr.responseText.indexOf("data-live") === -1) {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) {
      return;
    }
    document.querySelectorAll("[data-live]").forEach(function (part) {
      window.htmx.trigger(part, "mamori-visible");
    });
  });
})();
