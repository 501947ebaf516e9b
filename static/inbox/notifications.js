// The notification centre, browser notifications and sound, per type as the agent chooses.

import { get, patch, post } from "./api.js";
import { $, clear, fullTime, h } from "./dom.js";

const STORAGE_KEY = "inbox.notification-preferences";

function loadPreferences(kinds) {
  let stored = {};
  try {
    stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "{}");
  } catch (_) {
    stored = {};
  }
  const preferences = {};
  for (const { kind } of kinds) {
    preferences[kind] = { browser: true, sound: kind !== "customer_replied", ...(stored[kind] || {}) };
  }
  return preferences;
}

function beep() {
  try {
    const context = new (window.AudioContext || window.webkitAudioContext)();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.3);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 0.3);
  } catch (_) {
    // No audio (autoplay policy before any click): the badge still shows it.
  }
}

export function setupNotifications({ data, openConversation, report }) {
  const button = $("#notifications-button");
  const panel = $("#notifications-panel");
  const list = $("#notifications-list");
  const badgeNode = $("#notifications-badge");
  const preferences = loadPreferences(data.notification_kinds);
  const labels = Object.fromEntries(data.notification_kinds.map((k) => [k.kind, k.label]));
  let items = [];

  function renderBadge() {
    const unread = items.filter((n) => !n.read_at).length;
    badgeNode.hidden = unread === 0;
    badgeNode.textContent = String(unread);
  }

  function render() {
    clear(list);
    if (!items.length) list.append(h("li", { class: "empty" }, "Nothing new."));
    for (const notification of items) {
      list.append(h("li", { class: notification.read_at ? "read" : "unread" },
        h("button", { type: "button", class: "link", onclick: () => choose(notification) },
          h("strong", {}, notification.title), h("div", {}, notification.body),
          h("small", { class: "muted" }, `${labels[notification.kind] || notification.kind} · ${fullTime(notification.created_at)}`))));
    }
    renderBadge();
  }

  async function choose(notification) {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (!notification.read_at) {
      notification.read_at = new Date().toISOString();
      post(`notifications/${notification.id}/read/`).catch(report);
      render();
    }
    if (notification.conversation_id) openConversation(notification.conversation_id);
  }

  function renderPreferences() {
    const body = clear($("#notification-preferences tbody"));
    const mine = data.me.notification_preferences;
    for (const { kind, label } of data.notification_kinds) {
      // In app and email are the agent's profile, kept by the server; browser and sound are this browser's.
      const serverToggle = (medium) => h("input", {
        type: "checkbox", "aria-label": `${label}: ${medium.replace("_", " ")}`,
        checked: (mine[kind] || {})[medium] !== false,
        onchange: async (event) => {
          try {
            data.me.notification_preferences = await patch("notifications/preferences/", {
              [kind]: { [medium]: event.target.checked },
            });
          } catch (error) {
            event.target.checked = !event.target.checked;
            report(error);
          }
        },
      });
      const toggle = (medium) => h("input", {
        type: "checkbox", "aria-label": `${label}: ${medium}`, checked: preferences[kind][medium],
        onchange: (event) => {
          preferences[kind][medium] = event.target.checked;
          window.localStorage.setItem(STORAGE_KEY, JSON.stringify(preferences));
        },
      });
      body.append(h("tr", {}, h("td", {}, label), h("td", {}, serverToggle("in_app")),
        h("td", {}, serverToggle("email")), h("td", {}, toggle("browser")), h("td", {}, toggle("sound"))));
    }
    const permission = $("#notifications-permission");
    permission.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  button.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
  });
  $("#notifications-read-all").addEventListener("click", async () => {
    try {
      await post("notifications/read-all/");
      const now = new Date().toISOString();
      items.forEach((n) => { n.read_at = n.read_at || now; });
      render();
    } catch (error) {
      report(error);
    }
  });
  $("#notifications-permission").addEventListener("click", async () => {
    await Notification.requestPermission();
    renderPreferences();
  });

  get("notifications/", { page_size: 30 }).then((page) => { items = page.results; render(); }).catch(report);
  renderPreferences();

  return {
    receive(notification) {
      if (items.some((n) => n.id === notification.id)) return;
      items.unshift({ ...notification, read_at: null });
      items = items.slice(0, 50);
      render();
      const wanted = preferences[notification.kind] || { browser: true, sound: true };
      if (wanted.sound) beep();
      if (wanted.browser && "Notification" in window && Notification.permission === "granted" && document.hidden) {
        const shown = new Notification(notification.title, { body: notification.body, tag: `inbox-${notification.id}` });
        shown.onclick = () => { window.focus(); choose(notification); };
      }
    },
  };
}
