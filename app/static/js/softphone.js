// The browser softphone (Twilio Voice JavaScript SDK, served from /static): call, mute, hang up, keypad,
// and the answering-machine suggestion. The server gives a token only for the call the caller holds and
// decides the number itself; the browser sends only the task id.
(function () {
  "use strict";

  var root = document.getElementById("softphone");
  if (!root || root.dataset.mode !== "browser") {
    return;
  }
  var callButton = document.getElementById("softphone-call");
  var muteButton = document.getElementById("softphone-mute");
  var hangButton = document.getElementById("softphone-hangup");
  var status = document.getElementById("softphone-status");
  var suggestion = document.getElementById("softphone-suggestion");
  var keys = Array.prototype.slice.call(root.querySelectorAll("[data-dtmf]"));
  var csrf = document.querySelector('input[name="csrf_token"]');
  var fallback = " Use the Call button below (Twilio rings your phone) or dial by hand.";
  var device = null;
  var call = null;
  var timer = null;

  function say(text) {
    status.textContent = text;
  }

  if (!callButton) {
    return;
  }
  if (!window.Twilio || !window.Twilio.Device || !window.Twilio.Device.isSupported) {
    callButton.disabled = true;
    say("This browser cannot place calls (no WebRTC)." + fallback);
    return;
  }

  function live(on) {
    callButton.disabled = on;
    muteButton.disabled = !on;
    hangButton.disabled = !on;
    keys.forEach(function (key) {
      key.disabled = !on;
    });
  }

  function token() {
    return fetch(root.dataset.tokenUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrf ? csrf.value : "", "X-Requested-With": "fetch" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.error ? body.error.message : "No calling token.");
        }
        return body.token;
      });
    });
  }

  // The SDK's ringing and key tones would come from Twilio's CDN: a silent file from /static instead.
  function sounds() {
    var names = ["incoming", "outgoing", "disconnect", "dtmfs", "dtmfh"];
    for (var digit = 0; digit < 10; digit += 1) {
      names.push("dtmf" + digit);
    }
    var map = {};
    names.forEach(function (name) {
      map[name] = root.dataset.silence;
    });
    return map;
  }

  function suggest(state) {
    if (!state || !state.suggested) {
      return;
    }
    suggestion.hidden = false;
    suggestion.textContent = "Answering machine detected: \u201c" + state.suggested_label + "\u201d is suggested.";
    var button = document.querySelector('button[name="disposition"][value="' + state.suggested + '"]');
    if (button) {
      button.classList.add("suggested");
      button.setAttribute("aria-describedby", "softphone-suggestion");
    }
  }

  function poll() {
    fetch(root.dataset.stateUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        return response.ok ? response.json() : { call: null };
      })
      .then(function (body) {
        suggest(body.call);
      })
      .catch(function () {});
  }

  function ended() {
    live(false);
    call = null;
    window.clearInterval(timer);
    poll();
    say("Call ended: choose a disposition.");
  }

  callButton.addEventListener("click", function () {
    callButton.disabled = true;
    say("Connecting\u2026");
    token()
      .then(function (value) {
        if (device) {
          device.updateToken(value);
        } else {
          device = new window.Twilio.Device(value, { sounds: sounds(), closeProtection: true, logLevel: "error" });
          device.on("tokenWillExpire", function () {
            token().then(function (fresh) {
              device.updateToken(fresh);
            });
          });
          device.on("error", function (error) {
            say("Calling error: " + error.message + "." + fallback);
          });
        }
        var params = { task_id: root.dataset.task };
        // The desk's consent box (it belongs to the "call my phone" form, and says the same for this call).
        var consent = document.querySelector('input[name="recording_consent"]');
        if (consent && consent.checked) {
          params.recording_consent = "1";
        }
        return device.connect({ params: params });
      })
      .then(function (connected) {
        call = connected;
        live(true);
        say("Ringing\u2026");
        call.on("accept", function () {
          say("Connected.");
        });
        call.on("disconnect", ended);
        call.on("cancel", ended);
        call.on("reject", ended);
        call.on("error", function (error) {
          say("Calling error: " + error.message + ".");
        });
        call.on("mute", function (muted) {
          muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
          muteButton.textContent = muted ? "Unmute" : "Mute";
        });
        timer = window.setInterval(poll, 2000);
      })
      .catch(function (error) {
        callButton.disabled = false;
        say(error.message + fallback);
      });
  });

  muteButton.addEventListener("click", function () {
    if (call) {
      call.mute(!call.isMuted());
    }
  });
  hangButton.addEventListener("click", function () {
    if (call) {
      call.disconnect();
    }
  });
  keys.forEach(function (key) {
    key.addEventListener("click", function () {
      if (call) {
        call.sendDigits(key.dataset.dtmf);
      }
    });
  });
})();
