// The Mini App's map: legal vending spots, no-vending zones and open cases around the person.
//
// initData comes from Telegram.WebApp inside Telegram, or from the URL's #tgWebAppData (how Telegram and the
// playground both pass it). telegram-web-app.js is Telegram's own and is loaded only inside Telegram; in the
// playground (#tgWebAppPlatform=playground) "send to the chat" goes to the surrounding page by postMessage.
// Every text shown comes from the server (the bot's catalogs); data is put in with textContent, never as HTML.
(function () {
  "use strict";

  var TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js";
  var COLOURS = { open: "#1b9e4b", opens_soon: "#e8a317", closed_today: "#7b8794", closed_temporarily: "#c62828" };
  var MAX_CASE_RADIUS = 5000;

  var boot = JSON.parse(document.getElementById("boot").textContent);
  var hash = new URLSearchParams(location.hash.slice(1));
  var query = new URLSearchParams(location.search);
  var platform = hash.get("tgWebAppPlatform") || "";
  var inTelegram = platform !== "" && platform !== "playground";
  var initData = hash.get("tgWebAppData") || "";
  var telegram = null;

  var state = { config: null, period: null, goods: "", me: null, pin: null, loads: 0, box: "" };
  var map = null;
  var layers = {};

  function $(id) { return document.getElementById(id); }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null && text !== "") node.textContent = text;
    return node;
  }

  function unsafeLanguage() {
    // Only to choose the words of an error before the server has said who this is.
    try {
      var user = JSON.parse(new URLSearchParams(initData).get("user") || "{}");
      var code = (user.language_code || "").toLowerCase();
      if (code.indexOf("zh") === 0) return "zh_Hans";
      if (code) return "en";
    } catch (ignored) { /* an unreadable user: the default language */ }
    return boot.default_language;
  }

  function bootText(name) {
    var words = boot.strings[unsafeLanguage()] || boot.strings[boot.default_language];
    return words[name];
  }

  function words(name) { return state.config.strings[name]; }

  function notice(text) {
    var box = $("notice");
    box.textContent = text;
    box.hidden = !text;
    if (map) map.invalidateSize();
  }

  // ----------------------------------------------------------------- talking to Telegram (or the playground)
  function loadTelegram() {
    return new Promise(function (resolve) {
      if (!inTelegram) { resolve(null); return; }
      var script = document.createElement("script");
      script.src = TELEGRAM_SCRIPT;
      script.onload = function () { resolve(window.Telegram && window.Telegram.WebApp); };
      script.onerror = function () { resolve(null); };
      document.head.appendChild(script);
    });
  }

  // sendData reaches the chat only from a keyboard button's Mini App; one opened from an inline button or the
  // menu button (initData with a query_id) posts the same message to the bot's API, which answers in the chat.
  function sendToChat(payload) {
    var text = JSON.stringify(payload);
    if (telegram && !(telegram.initDataUnsafe && telegram.initDataUnsafe.query_id)) {
      telegram.sendData(text);  // Telegram closes the Mini App and posts web_app_data into the chat
      return Promise.resolve();
    }
    if (!telegram && window.parent !== window) {  // the playground's panel: its page plays Telegram
      window.parent.postMessage({ type: "citybot:web_app_data", data: text }, location.origin);
      return Promise.resolve();
    }
    return fetch("api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Telegram-Init-Data": initData },
      body: JSON.stringify({ data: text }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.error || String(response.status));
        if (telegram) telegram.close();
      });
    });
  }

  function api(path, params) {
    var url = "api/" + path + (params ? "?" + new URLSearchParams(params).toString() : "");
    return fetch(url, { headers: { "X-Telegram-Init-Data": initData } }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          var error = new Error(body.error || String(response.status));
          error.status = response.status;
          throw error;
        });
      }
      return response.json();
    });
  }

  // ----------------------------------------------------------------- popups
  function spotPopup(feature) {
    var p = feature.properties;
    var box = element("div", "popup spot-popup");
    box.appendChild(element("b", "", p.name));
    box.appendChild(element("div", "muted", p.address));
    box.appendChild(element("div", "state", p.state_text));
    box.appendChild(element("div", "", p.today));
    box.appendChild(element("div", "", p.facts));
    if (p.walk) box.appendChild(element("div", "muted", p.walk));
    var button = element("button", "subscribe", words("subscribe"));
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      sendToChat({ action: "subscribe", spot: p.id }).then(function () {
        box.appendChild(element("div", "done", words("subscribed")));
      }, function (error) {
        button.disabled = false;
        box.appendChild(element("div", "muted", error.message));
      });
    });
    box.appendChild(button);
    return box;
  }

  function zonePopup(feature) {
    var p = feature.properties;
    var box = element("div", "popup zone-popup");
    box.appendChild(element("b", "", p.name));
    box.appendChild(element("div", "", p.kind_text));
    box.appendChild(element("div", "", p.hours_text));
    box.appendChild(element("div", "state", p.state_text));
    return box;
  }

  function casePopup(feature) {
    var p = feature.properties;
    var box = element("div", "popup case-popup");
    box.appendChild(element("b", "", p.category_text));
    box.appendChild(element("div", "state", p.state_text));
    box.appendChild(element("div", "muted", p.age_text + " · " + p.number));
    return box;
  }

  // ----------------------------------------------------------------- the layers
  function makeLayers() {
    layers.zones = L.geoJSON(null, {
      style: function (feature) {
        var active = feature.properties.active;
        return {
          className: "zone " + (active ? "zone-active" : "zone-idle"),
          color: active ? "#c62828" : "#8d99a6",
          weight: 2,
          fillOpacity: active ? 0.25 : 0.1,
          dashArray: active ? null : "4 4",
        };
      },
      onEachFeature: function (feature, layer) { layer.bindPopup(function () { return zonePopup(feature); }); },
    }).addTo(map);
    layers.cases = L.geoJSON(null, {
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {
          className: "case", radius: 6, color: "#5e35b1", weight: 2, fillColor: "#b39ddb", fillOpacity: 0.9,
        });
      },
      onEachFeature: function (feature, layer) { layer.bindPopup(function () { return casePopup(feature); }); },
    }).addTo(map);
    layers.spots = L.geoJSON(null, {
      pointToLayer: function (feature, latlng) {
        var status = feature.properties.state;
        return L.circleMarker(latlng, {
          className: "spot spot-" + status, radius: 9, color: "#ffffff", weight: 2,
          fillColor: COLOURS[status] || "#7b8794", fillOpacity: 0.95,
        });
      },
      onEachFeature: function (feature, layer) { layer.bindPopup(function () { return spotPopup(feature); }); },
    }).addTo(map);
  }

  function legend() {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = element("div", "legend");
      ["open", "opens_soon", "closed_today", "closed_temporarily"].forEach(function (name) {
        var line = element("div");
        var dot = element("i");
        dot.style.background = COLOURS[name];
        line.appendChild(dot);
        line.appendChild(document.createTextNode(words(name)));
        box.appendChild(line);
      });
      return box;
    };
    control.addTo(map);
  }

  function boxParam() {
    var bounds = map.getBounds();
    return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
      .map(function (value) { return value.toFixed(6); }).join(",");
  }

  function reload() {
    var box = boxParam();
    var spotParams = { bbox: box, at: state.period.at };
    if (state.goods) spotParams.goods = state.goods;
    if (state.me) { spotParams.lat = state.me.lat; spotParams.lon = state.me.lon; }
    var centre = map.getCenter();
    var radius = Math.min(MAX_CASE_RADIUS, Math.max(50, centre.distanceTo(map.getBounds().getNorthEast())));
    return Promise.all([
      api("spots.geojson", spotParams),
      api("zones.geojson", { bbox: box, at: state.period.at }),
      api("cases.geojson", { lat: centre.lat.toFixed(6), lon: centre.lng.toFixed(6), radius: Math.round(radius) }),
    ]).then(function (answers) {
      layers.spots.clearLayers().addData(answers[0]);
      layers.zones.clearLayers().addData(answers[1]);
      layers.cases.clearLayers().addData(answers[2]);
      state.box = box;
      state.loads += 1;
      $("map").dataset.box = box;
      $("map").dataset.loads = String(state.loads);
      $("map").dataset.spots = String(answers[0].features.length);
      $("map").dataset.zones = String(answers[1].features.length);
    }).catch(function (error) {
      notice(error.status === 401 ? bootText("unsigned") : words("load_failed"));
    });
  }

  // ----------------------------------------------------------------- the bar: period, goods, report here
  function makeBar() {
    var periods = $("periods");
    state.config.periods.forEach(function (period) {
      var button = element("button", "", period.label);
      button.type = "button";
      button.dataset.period = period.code;
      button.addEventListener("click", function () {
        state.period = period;
        Array.prototype.forEach.call(periods.children, function (other) {
          other.classList.toggle("chosen", other === button);
        });
        reload();
      });
      periods.appendChild(button);
    });
    periods.firstChild.classList.add("chosen");
    var goods = $("goods");
    goods.appendChild(new Option(words("all_goods"), ""));
    state.config.goods.forEach(function (item) { goods.appendChild(new Option(item.label, item.code)); });
    goods.addEventListener("change", function () { state.goods = goods.value; reload(); });
    var categories = $("category");
    categories.appendChild(new Option(words("choose_category"), ""));
    state.config.categories.forEach(function (item) { categories.appendChild(new Option(item.label, item.code)); });
    $("report-here").textContent = words("report_here");
    $("report-hint").textContent = words("report_hint");
    $("report-send").textContent = words("send_report");
    $("report-cancel").textContent = words("cancel");
    $("report-here").addEventListener("click", startReport);
    $("report-cancel").addEventListener("click", endReport);
    $("report-send").addEventListener("click", sendReport);
    $("bar").hidden = false;
  }

  function startReport() {
    if (!state.pin) {
      state.pin = L.marker(map.getCenter(), { draggable: true, autoPan: true, title: words("you_are_here") });
      state.pin.addTo(map);
    } else {
      state.pin.setLatLng(map.getCenter());
    }
    $("report-panel").hidden = false;
    map.invalidateSize();
  }

  function endReport() {
    if (state.pin) { map.removeLayer(state.pin); state.pin = null; }
    $("report-panel").hidden = true;
    map.invalidateSize();
  }

  function sendReport() {
    var category = $("category").value;
    if (!category || !state.pin) { $("category").focus(); return; }
    var place = state.pin.getLatLng();
    $("report-send").disabled = true;
    sendToChat({ action: "report", category: category, lat: +place.lat.toFixed(6), lon: +place.lng.toFixed(6) })
      .then(function () { notice(words("report_sent")); }, function (error) {
        $("report-send").disabled = false;
        notice(error.message);
      });
  }

  // ----------------------------------------------------------------- start
  function start(config) {
    state.config = config;
    state.period = config.periods[0];
    document.documentElement.lang = config.language === "zh_Hans" ? "zh-Hans" : "en";
    document.title = words("title");
    L.Icon.Default.imagePath = "static/leaflet/images/";
    // minZoom 11: the widest view stays inside the API's 2° box, a city's districts and not a province.
    map = L.map("map", { zoomControl: true, minZoom: 11 }).setView([config.center.lat, config.center.lon], config.zoom);
    var tiles = L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 });
    var tileFailed = false;
    tiles.on("tileerror", function () {
      if (!tileFailed) { tileFailed = true; notice(words("no_tiles")); }
    });
    tiles.addTo(map);
    makeLayers();
    legend();
    makeBar();
    if (config.me) {
      state.me = config.me;
      L.circleMarker([config.me.lat, config.me.lon], {
        className: "me", radius: 7, color: "#1565c0", weight: 3, fillColor: "#64b5f6", fillOpacity: 1,
      }).addTo(map);
    }
    // A popup pans the map to fit: reloading then would take the popup's layer away under the person's finger,
    // so a move while a popup is open reloads when it closes.
    var popupOpen = false;
    var moved = false;
    map.on("popupopen", function () { popupOpen = true; });
    map.on("popupclose", function () {
      popupOpen = false;
      if (moved) { moved = false; reload(); }
    });
    map.on("moveend", function () {
      if (popupOpen) { moved = true; } else { reload(); }
    });
    window.cityMap = { map: map, state: state, reload: reload };
    return reload();
  }

  loadTelegram().then(function (webApp) {
    telegram = webApp;
    if (telegram) {
      telegram.ready();
      telegram.expand();
      initData = telegram.initData || initData;
    }
    if (!initData) { notice(bootText("unsigned")); return null; }
    var params = {};
    if (query.get("lat") && query.get("lon")) { params.lat = query.get("lat"); params.lon = query.get("lon"); }
    return api("config.json", params).then(start);
  }).catch(function (error) {
    notice(error.status === 401 ? bootText("unsigned") : bootText("load_failed"));
  });
})();
