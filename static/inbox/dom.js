// Building DOM nodes. Text always goes in through textContent, so whatever a customer,
// a contact or the assistant wrote is shown as text and never parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// Short marks rather than emoji: they read the same on every system, fonts or not.
const CHANNEL_ICONS = { webchat: "Web", sms: "SMS", whatsapp: "WA", email: "Mail", voice: "Call", api: "API" };
const CHANNEL_LABELS = { webchat: "Web chat", sms: "SMS", whatsapp: "WhatsApp", email: "Email", voice: "Voice", api: "API" };

export function channelIcon(kind) {
  return h("span", { class: `channel channel-${kind}`, title: CHANNEL_LABELS[kind] || kind, "aria-label": CHANNEL_LABELS[kind] || kind },
    CHANNEL_ICONS[kind] || "•");
}

export function channelLabel(kind) {
  return CHANNEL_LABELS[kind] || kind;
}

export function badge(text, kind) {
  return h("span", { class: `badge-pill ${kind}-${text}` }, text);
}

export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) {
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return date.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function fullTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}
