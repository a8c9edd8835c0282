// The playground page: plays Telegram users against the emulator and renders whatever the bot sends.
// Plain JavaScript, no build step, nothing loaded from the internet. Text from the bot or a user is only ever
// put into the page with textContent, never as HTML.
"use strict";

const UI = {
  en: {
    title: "City-service bot · Playground", subtitle: "the real bot, an emulated Telegram, no token",
    simulated: "Bot time", plus10: "+10 min", plus60: "+1 hour", plus1d: "+1 day", offline: "reconnecting…",
    twoChats: "Two chats", oneChat: "One chat", iAm: "I am", chat: "Chat", tgLanguage: "Telegram language",
    replyingTo: "Replying to", message: "Message", send: "Send", samplePhoto: "Send the sample photo",
    shareLocation: "Share location", voice: "Send a voice message (sample clip)", pickPlace: "Share a location",
    pickHint: "Pick a place of the sample city, or type coordinates.", latitude: "Latitude", longitude: "Longitude",
    shareCoords: "Share these coordinates", cancel: "Cancel", outside: "outside the service area",
    privateChat: "City Service (private chat)", deleted: "message deleted", edited: "edited", route: "route",
    reply: "reply", contact: "Contact", clockMoved: "Bot time moved forward.", noAnswer: "(the bot gave no answer)",
    resident: "A resident: reports problems on the street and follows them.",
    vendor: "A street vendor: asks where and when selling is allowed.",
    staff: "A staff member (dispatcher/officer) in the staff group, where alert cards arrive.",
    admin: "An administrator (ADMIN_IDS), also in the staff group.",
    voiceMessage: "Voice message", document: "File",
    role_resident: "resident", role_vendor: "vendor", role_staff: "staff", role_admin: "admin",
    miniApp: "Mini App", openMap: "Open the map (the chat's menu button)",
  },
  zh: {
    title: "城市服务机器人 · 体验场", subtitle: "真实的机器人，模拟的 Telegram，无需令牌",
    simulated: "机器人时间", plus10: "+10 分钟", plus60: "+1 小时", plus1d: "+1 天", offline: "正在重新连接…",
    twoChats: "双窗口", oneChat: "单窗口", iAm: "我是", chat: "对话", tgLanguage: "Telegram 语言",
    replyingTo: "回复", message: "输入消息", send: "发送", samplePhoto: "发送示例照片",
    shareLocation: "发送位置", voice: "发送语音（示例片段）", pickPlace: "发送位置",
    pickHint: "选择示例城市里的一个地点，或输入坐标。", latitude: "纬度", longitude: "经度",
    shareCoords: "发送这个坐标", cancel: "取消", outside: "服务区外",
    privateChat: "城市服务（私聊）", deleted: "消息已删除", edited: "已编辑", route: "路线",
    reply: "回复", contact: "联系人", clockMoved: "机器人时间已前进。", noAnswer: "（机器人没有回应）",
    resident: "居民：反映街面问题并跟进处理。",
    vendor: "摊贩：询问哪里、什么时候可以摆摊。",
    staff: "工作人员（调度/队员），在工作群里接收警情卡片。",
    admin: "管理员（ADMIN_IDS），也在工作群里。",
    voiceMessage: "语音消息", document: "文件",
    role_resident: "居民", role_vendor: "摊贩", role_staff: "工作人员", role_admin: "管理员",
    miniApp: "小程序", openMap: "打开地图（对话的菜单按钮）",
  },
};

const state = {
  world: null,
  ui: localStorage.getItem("playground-ui") || (navigator.language.startsWith("zh") ? "zh" : "en"),
  clockOffset: 0,
  timezone: "UTC",
  panes: [],
  pickerTarget: null,
  miniAppPane: null, // the pane whose persona the Mini App panel was opened for
};

function tr(key) {
  return (UI[state.ui] && UI[state.ui][key]) || UI.en[key] || key;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: body instanceof FormData ? { "X-Playground": "1" } : { "Content-Type": "application/json", "X-Playground": "1" },
    body: body instanceof FormData ? body : JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function alertBox(text) {
  const dialog = document.getElementById("alert");
  dialog.querySelector(".alert-text").textContent = text;
  dialog.showModal();
}

function applyUiLanguage() {
  document.documentElement.lang = state.ui === "zh" ? "zh-Hans" : "en";
  document.getElementById("ui-language").textContent = state.ui === "zh" ? "English" : "中文";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = tr(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-title]").forEach((node) => { node.title = tr(node.dataset.i18nTitle); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = tr(node.dataset.i18nPlaceholder); });
  document.getElementById("toggle-second").textContent = state.panes.length > 1 ? tr("oneChat") : tr("twoChats");
  state.panes.forEach((pane) => pane.refreshLabels());
  renderPlaces();
}

// ------------------------------------------------------------------------------------------ the clock
function setClock(clock) {
  state.clockOffset = clock.offset_seconds * 1000;
  state.timezone = clock.timezone;
  document.getElementById("clock-zone").textContent = clock.timezone;
  tickClock();
}

function botNow() {
  return new Date(Date.now() + state.clockOffset);
}

function formatTime(date, withDate) {
  const options = { timeZone: state.timezone, hour: "2-digit", minute: "2-digit", hour12: false };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
  try {
    return new Intl.DateTimeFormat(state.ui === "zh" ? "zh-CN" : "en-GB", options).format(date);
  } catch (error) {
    return date.toISOString();
  }
}

function tickClock() {
  document.getElementById("clock-now").textContent = formatTime(botNow(), true);
}

async function advance(minutes) {
  try {
    setClock(await api("/api/clock", { minutes }));
    toast(tr("clockMoved"));
  } catch (error) {
    toast(error.message);
  }
}

// ------------------------------------------------------------------------------------ the place picker
function renderPlaces() {
  if (!state.world) return;
  const box = document.querySelector("#picker .places");
  box.replaceChildren();
  const districts = Object.fromEntries(state.world.districts.map((d) => [d.code, d]));
  for (const place of state.world.places) {
    const button = el("button", place.district ? "place" : "place outside");
    button.type = "button";
    button.dataset.place = place.key;
    button.append(el("span", "name", state.ui === "zh" ? place.name_zh : place.name_en));
    const district = districts[place.district];
    const where = district ? (state.ui === "zh" ? district.name_zh : district.name_en) : tr("outside");
    button.append(el("span", "district", `${where} · ${place.latitude.toFixed(4)}, ${place.longitude.toFixed(4)}`));
    button.addEventListener("click", () => sharePicked(place.latitude, place.longitude));
    box.append(button);
  }
}

function openPicker(pane) {
  state.pickerTarget = pane;
  const dialog = document.getElementById("picker");
  dialog.querySelector(".picker-error").hidden = true;
  dialog.showModal();
}

async function sharePicked(latitude, longitude) {
  const dialog = document.getElementById("picker");
  const pane = state.pickerTarget;
  try {
    await pane.act("location", { latitude, longitude });
    dialog.close();
  } catch (error) {
    const box = dialog.querySelector(".picker-error");
    box.textContent = error.message;
    box.hidden = false;
  }
}

// --------------------------------------------------------------------------------------- one chat pane
class Pane {
  constructor(id, personaKey, chatId) {
    this.root = document.getElementById("pane-template").content.firstElementChild.cloneNode(true);
    this.root.id = id;
    this.personaKey = personaKey;
    this.chatId = chatId;
    this.messages = new Map(); // message id -> {json, node, message}
    this.cursor = 0;
    this.generation = 0;
    this.replyTo = null;
    this.hiddenKeyboardOf = null; // a one-time keyboard already used
    this.dismissedForceReply = null;
    this.find(".persona").addEventListener("change", (event) => this.switchTo(event.target.value, null));
    this.find(".chat").addEventListener("change", (event) => this.switchTo(this.personaKey, Number(event.target.value)));
    this.find(".tg-language").addEventListener("change", (event) => this.setTelegramLanguage(event.target.value));
    this.find(".composer").addEventListener("submit", (event) => { event.preventDefault(); this.sendTyped(); });
    this.find(".photo-input").addEventListener("change", (event) => this.sendPhotos(event.target));
    this.find(".sample-photo").addEventListener("click", () => this.sendPhotos(null));
    this.find(".location-button").addEventListener("click", () => openPicker(this));
    this.find(".voice-button").addEventListener("click", () => this.act("voice", {}).catch((e) => toast(e.message)));
    this.find(".reply-cancel").addEventListener("click", () => this.setReply(null, true, false));
    this.find(".commands-button").addEventListener("click", () => this.toggleCommands());
    this.find(".map-button").addEventListener("click", () => openMiniApp(this));
  }

  find(selector) {
    return this.root.querySelector(selector);
  }

  get persona() {
    return state.world.personas.find((p) => p.key === this.personaKey);
  }

  refreshLabels() {
    this.root.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = tr(node.dataset.i18n); });
    this.root.querySelectorAll("[data-i18n-title]").forEach((node) => { node.title = tr(node.dataset.i18nTitle); });
    this.find(".message-input").placeholder = tr("message");
    const personas = this.find(".persona");
    personas.replaceChildren(...state.world.personas.map((p) => {
      const option = el("option", null, `${p.first_name} · ${tr("role_" + p.role)}`);
      option.value = p.key;
      return option;
    }));
    personas.value = this.personaKey;
    const chats = this.find(".chat");
    const choices = [{ id: this.persona.user_id, title: tr("privateChat") }];
    if (this.persona.groups.includes(state.world.staff_group.id)) choices.push(state.world.staff_group);
    chats.replaceChildren(...choices.map((c) => {
      const option = el("option", null, c.title);
      option.value = String(c.id);
      return option;
    }));
    chats.value = String(this.chatId);
    this.find(".tg-language").value = this.persona.language_code;
    this.find(".persona-note").textContent = tr(this.persona.role);
    for (const entry of this.messages.values()) this.renderInto(entry);
  }

  switchTo(personaKey, chatId) {
    const persona = state.world.personas.find((p) => p.key === personaKey);
    this.personaKey = personaKey;
    this.chatId = chatId !== null && persona.groups.concat([persona.user_id]).includes(chatId) ? chatId : persona.user_id;
    this.messages.clear();
    this.find(".messages").replaceChildren();
    this.cursor = 0;
    this.replyTo = null;
    this.hiddenKeyboardOf = null;
    this.shownKeyboardOf = undefined;
    this.dismissedForceReply = null;
    this.root.dataset.persona = personaKey;
    this.root.dataset.chat = String(this.chatId);
    this.refreshLabels();
    this.updateKeyboard();
    this.poll();
  }

  async setTelegramLanguage(code) {
    try {
      const result = await api(`/api/personas/${this.personaKey}/language`, { language_code: code });
      this.persona.language_code = result.language_code;
      state.panes.forEach((pane) => { if (pane.personaKey === this.personaKey) pane.refreshLabels(); });
    } catch (error) {
      toast(error.message);
    }
  }

  // -------------------------------------------------------------------------------- following the chat
  async poll() {
    const generation = ++this.generation;
    while (generation === this.generation) {
      try {
        const wait = this.cursor === 0 ? 0 : 10;
        const data = await api(`/api/chats/${this.chatId}/updates?after=${this.cursor}&wait=${wait}`);
        if (generation !== this.generation) return;
        document.getElementById("connection").hidden = true;
        this.cursor = data.cursor;
        setClock(data.clock);
        for (const message of data.messages) this.upsert(message);
        if (data.messages.length) this.updateKeyboard();
      } catch (error) {
        document.getElementById("connection").hidden = false;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  upsert(message) {
    const json = JSON.stringify(message);
    const known = this.messages.get(message.message_id);
    if (known && known.json === json) return;
    const list = this.find(".messages");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const entry = known || { node: el("div", "msg") };
    entry.json = json;
    entry.message = message;
    if (!known) {
      this.messages.set(message.message_id, entry);
      const later = [...this.messages.keys()].filter((id) => id > message.message_id).sort((a, b) => a - b)[0];
      list.insertBefore(entry.node, later === undefined ? null : this.messages.get(later).node);
    }
    this.renderInto(entry);
    if (nearBottom || !known) list.scrollTop = list.scrollHeight;
  }

  renderInto(entry) {
    const message = entry.message;
    const node = entry.node;
    const fromBot = message.from && message.from.is_bot;
    const mine = message.from && message.from.id === this.persona.user_id;
    node.className = "msg" + (mine ? " out" : fromBot ? " bot" : " other") + (message.deleted ? " deleted" : "")
      + (message.media_group_id ? " album" : "");
    node.dataset.messageId = String(message.message_id);
    node.replaceChildren();
    if (message.deleted) {
      node.append(el("div", "text", tr("deleted")));
      return;
    }
    if (!mine && (message.chat.type !== "private" || !fromBot)) {
      node.append(el("div", "sender", message.from ? message.from.first_name : ""));
    }
    if (message.reply_to_message) node.append(el("div", "quote", summary(message.reply_to_message)));
    renderBody(node, message);
    if (message.reply_markup && message.reply_markup.inline_keyboard) {
      node.append(this.inlineKeyboard(message));
    }
    const meta = el("div", "meta");
    if (message.edit_date) meta.append(el("span", "edited", tr("edited")));
    meta.append(el("time", null, formatTime(new Date(message.date * 1000), false)));
    const reply = el("button", "reply-action", "↩ " + tr("reply"));
    reply.type = "button";
    reply.addEventListener("click", () => this.setReply(message, false, true));
    meta.append(reply);
    node.append(meta);
  }

  inlineKeyboard(message) {
    const keyboard = el("div", "inline-keyboard");
    for (const row of message.reply_markup.inline_keyboard) {
      const line = el("div", "inline-row");
      for (const button of row) {
        if (button.web_app) {
          const open = el("button", "inline-button web-app-button", "🗺 " + button.text.replace(/^🗺\s*/, ""));
          open.type = "button";
          open.addEventListener("click", () => openMiniApp(this));
          line.append(open);
          continue;
        }
        if (button.url) {
          const link = el("a", "inline-url", button.text + " ↗");
          link.href = button.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          line.append(link);
          continue;
        }
        const press = el("button", "inline-button", button.text);
        press.type = "button";
        press.dataset.callback = button.callback_data || "";
        press.addEventListener("click", () => this.press(message, button));
        line.append(press);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  // The reply keyboard of the chat: the last one the bot sent, until removed; a force-reply starts a reply.
  updateKeyboard() {
    const box = this.find(".keyboard");
    let keyboard = null;
    let keyboardOf = null;
    let forceReply = null;
    const ids = [...this.messages.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const message = this.messages.get(id).message;
      if (message.from && message.from.id === this.persona.user_id) forceReply = null;
      if (!message.keyboard) continue;
      if (message.keyboard.keyboard) { keyboard = message.keyboard; keyboardOf = id; }
      if (message.keyboard.remove_keyboard) { keyboard = null; keyboardOf = id; }
      if (message.keyboard.force_reply) forceReply = message;
    }
    if (forceReply && forceReply.message_id !== this.dismissedForceReply && !this.replyTo) {
      this.setReply(forceReply, false, false); // no focus jump: the visitor may be typing in the other chat
    }
    const shown = !keyboard || this.hiddenKeyboardOf === keyboardOf ? null : keyboardOf;
    if (shown === this.shownKeyboardOf) return; // unchanged: keep the buttons, so a click in flight is not lost
    this.shownKeyboardOf = shown;
    if (shown === null) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.replaceChildren(...keyboard.keyboard.map((row) => {
      const line = el("div", "row");
      for (const button of row) {
        const spec = typeof button === "string" ? { text: button } : button;
        const key = el("button", "key", spec.request_location ? "📍 " + spec.text : spec.text);
        key.type = "button";
        key.addEventListener("click", () => this.tapKey(spec, keyboard.one_time_keyboard ? keyboardOf : null));
        line.append(key);
      }
      return line;
    }));
    box.hidden = false;
  }

  tapKey(spec, oneTimeOf) {
    if (oneTimeOf !== null) this.hiddenKeyboardOf = oneTimeOf;
    if (spec.web_app) {
      openMiniApp(this);
    } else if (spec.request_location) {
      openPicker(this);
    } else if (spec.request_contact) {
      this.act("contact", {}).catch((e) => toast(e.message));
    } else {
      this.act("send", { text: spec.text }).catch((e) => toast(e.message));
    }
    this.updateKeyboard();
  }

  setReply(message, dismissed, focus) {
    if (dismissed && this.replyTo) this.dismissedForceReply = this.replyTo.message_id;
    this.replyTo = message;
    const bar = this.find(".reply-bar");
    bar.hidden = !message;
    this.find(".reply-text").textContent = message ? summary(message) : "";
    if (message && focus) this.find(".message-input").focus();
  }

  toggleCommands() {
    const menu = this.find(".commands-menu");
    if (!menu.hidden) { menu.hidden = true; return; }
    const code = (this.persona.language_code || "").split("-")[0];
    const commands = state.world.commands[code] || state.world.commands.default || [];
    menu.replaceChildren(...commands.map((command) => {
      const item = el("button", "command-item");
      item.type = "button";
      item.append(el("span", "command", "/" + command.command), el("span", null, command.description));
      item.addEventListener("click", () => {
        menu.hidden = true;
        this.act("send", { text: "/" + command.command }).catch((e) => toast(e.message));
      });
      return item;
    }));
    menu.hidden = commands.length === 0;
  }

  // ------------------------------------------------------------------------------------------ acting
  async act(action, body) {
    const payload = { persona: this.personaKey, ...body };
    if (action === "send" && this.replyTo) payload.reply_to = this.replyTo.message_id;
    const result = await api(`/api/chats/${this.chatId}/${action}`, payload);
    if (action === "send" && this.replyTo) this.setReply(null, true, false);
    return result;
  }

  async sendTyped() {
    const input = this.find(".message-input");
    if (!input.value.trim()) return;
    try {
      await this.act("send", { text: input.value });
      input.value = "";
    } catch (error) {
      toast(error.message);
    }
  }

  async sendPhotos(input) {
    const form = new FormData();
    form.append("persona", this.personaKey);
    form.append("caption", this.find(".message-input").value);
    if (input) for (const file of input.files) form.append("photo", file, file.name);
    try {
      await api(`/api/chats/${this.chatId}/photos`, form);
      this.find(".message-input").value = "";
    } catch (error) {
      toast(error.message);
    }
    if (input) input.value = "";
  }

  async press(message, button) {
    try {
      const result = await this.act("press", { message_id: message.message_id, data: button.callback_data });
      const answer = result.answer;
      if (answer && answer.text) {
        if (answer.show_alert) alertBox(answer.text); else toast(answer.text);
      }
    } catch (error) {
      toast(error.message);
    }
  }
}

// ------------------------------------------------------------------------------------ message bodies
function summary(message) {
  if (message.text) return message.text;
  if (message.caption) return message.caption;
  if (message.venue) return "📍 " + message.venue.title;
  if (message.location) return `📍 ${message.location.latitude}, ${message.location.longitude}`;
  if (message.photo) return "🖼️";
  if (message.voice) return "🎤 " + tr("voiceMessage");
  if (message.document) return "📄 " + (message.document.file_name || tr("document"));
  return "…";
}

function fileUrl(fileId) {
  return `/api/files/${encodeURIComponent(fileId)}`;
}

function placeCard(title, address, location) {
  const card = el("div", "card location-card");
  if (title) card.append(el("div", "card-title", title));
  if (address) card.append(el("div", "card-sub", address));
  const lat = Number(location.latitude).toFixed(5);
  const lon = Number(location.longitude).toFixed(5);
  card.append(el("div", "coords", `${lat}, ${lon}`));
  const route = el("a", "route", tr("route") + " ↗");
  route.href = `https://www.openstreetmap.org/directions?route=%3B${lat}%2C${lon}#map=16/${lat}/${lon}`;
  route.target = "_blank";
  route.rel = "noopener noreferrer";
  card.append(route);
  return card;
}

function renderBody(node, message) {
  if (message.photo && message.photo.length) {
    const image = el("img", "photo");
    image.src = fileUrl(message.photo[message.photo.length - 1].file_id);
    image.alt = message.caption || "photo";
    node.append(image);
  }
  if (message.venue) {
    node.append(placeCard(message.venue.title, message.venue.address, message.venue.location));
  } else if (message.location) {
    node.append(placeCard(null, null, message.location));
  }
  if (message.voice) {
    const audio = el("audio", "voice");
    audio.controls = true;
    audio.preload = "none";
    audio.src = fileUrl(message.voice.file_id);
    node.append(el("div", "card-sub", "🎤 " + tr("voiceMessage")), audio);
  }
  if (message.document) {
    const link = el("a", "document", "📄 " + (message.document.file_name || tr("document")));
    link.href = fileUrl(message.document.file_id);
    link.download = message.document.file_name || "file";
    node.append(link);
  }
  if (message.contact) {
    const card = el("div", "card contact-card");
    card.append(el("div", "card-title", "👤 " + message.contact.first_name), el("div", "card-sub", message.contact.phone_number));
    node.append(card);
  }
  if (message.sticker) node.append(el("div", "text", message.sticker.emoji || "🏷️"));
  const text = message.text || message.caption;
  if (text) node.append(el("div", "text", text));
}

// ------------------------------------------------------------------------------------------ the Mini App
// Opens the map for the pane's persona, signed as Telegram would sign it; what the page sends with
// "send to the chat" (Telegram.WebApp.sendData in Telegram) arrives here by postMessage and goes into the
// persona's private chat as a web_app_data message.
async function openMiniApp(pane) {
  try {
    const result = await api(`/api/personas/${pane.personaKey}/webapp`);
    state.miniAppPane = pane;
    document.querySelector("#miniapp .miniapp-who").textContent = pane.persona.first_name;
    // A new frame each time: only the #fragment (who, when signed) differs, which would not reload the page.
    const frame = el("iframe");
    frame.id = "miniapp-frame";
    frame.title = tr("miniApp");
    frame.src = result.url;
    document.getElementById("miniapp-frame").replaceWith(frame);
    document.getElementById("miniapp").hidden = false;
  } catch (error) {
    toast(error.message);
  }
}

window.addEventListener("message", (event) => {
  const message = event.data;
  if (event.origin !== location.origin || !message || message.type !== "citybot:web_app_data") return;
  const pane = state.miniAppPane;
  if (!pane) return;
  api(`/api/chats/${pane.persona.user_id}/webappdata`, { persona: pane.personaKey, data: String(message.data) })
    .catch((error) => toast(error.message));
});

// ------------------------------------------------------------------------------------------ start up
function addPane(id, personaKey, chatId) {
  const pane = new Pane(id, personaKey, chatId);
  document.getElementById("panes").append(pane.root);
  state.panes.push(pane);
  pane.switchTo(personaKey, chatId);
  return pane;
}

function toggleSecondPane() {
  if (state.panes.length > 1) {
    const pane = state.panes.pop();
    pane.generation += 1; // ends its polling loop
    pane.root.remove();
  } else {
    addPane("pane-b", "staff", state.world.staff_group.id);
  }
  applyUiLanguage();
}

async function boot() {
  state.world = await api("/api/world");
  setClock(state.world.clock);
  setInterval(tickClock, 1000);
  document.querySelectorAll(".advance").forEach((button) => {
    button.addEventListener("click", () => advance(Number(button.dataset.minutes)));
  });
  document.getElementById("ui-language").addEventListener("click", () => {
    state.ui = state.ui === "zh" ? "en" : "zh";
    localStorage.setItem("playground-ui", state.ui);
    applyUiLanguage();
  });
  document.getElementById("toggle-second").addEventListener("click", toggleSecondPane);
  document.querySelector("#miniapp .miniapp-close").addEventListener("click", () => {
    document.getElementById("miniapp").hidden = true;
    document.getElementById("miniapp-frame").src = "about:blank";
  });
  document.querySelector("#miniapp .miniapp-reload").addEventListener("click", () => {
    if (state.miniAppPane) openMiniApp(state.miniAppPane);
  });
  document.querySelector("#picker .share-coords").addEventListener("click", () => {
    const dialog = document.getElementById("picker");
    sharePicked(dialog.querySelector(".lat").value.trim(), dialog.querySelector(".lon").value.trim());
  });
  addPane("pane-a", "resident", null);
  addPane("pane-b", "staff", state.world.staff_group.id);
  applyUiLanguage();
}

boot().catch((error) => {
  document.body.prepend(el("p", "boot-error", "The playground could not start: " + error.message));
});
