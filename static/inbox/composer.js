// The composer: reply or private note, canned responses with "/", attachments, Ctrl/Cmd+Enter.

import { get, request } from "./api.js";
import { $, clear, h } from "./dom.js";

export function setupComposer({ data, state, live, report, toast, addMessage, refreshCounts }) {
  const form = $("#composer");
  const text = $("#composer-text");
  const files = $("#composer-files");
  const picker = $("#canned-picker");
  const errorNode = $("#composer-error");
  let pickerIndex = 0;
  let typingTimer = null;
  let typing = false;
  let sending = false;

  function mode() {
    return form.dataset.mode;
  }

  function setMode(name) {
    form.dataset.mode = name;
    $("#mode-reply").setAttribute("aria-selected", String(name === "reply"));
    $("#mode-note").setAttribute("aria-selected", String(name === "note"));
    text.placeholder = name === "note"
      ? "Private note, only your team sees it… (Ctrl+Enter to add)"
      : "Reply… (type / for canned responses, Ctrl+Enter to send)";
    $("#send").textContent = name === "note" ? "Add note" : "Send";
    files.disabled = name === "note";
  }

  function setTyping(on) {
    if (!state.open || on === typing) return;
    typing = on;
    live.send({ type: "typing", conversation_id: state.open.id, is_typing: on, private: mode() === "note" });
  }

  // --- Canned responses ---------------------------------------------------------------------

  function slashQuery() {
    const before = text.value.slice(0, text.selectionStart);
    const match = before.match(/(?:^|\s)\/([\w-]*)$/);
    return match ? match[1].toLowerCase() : null;
  }

  function matches(query) {
    return data.canned_responses.filter((c) =>
      c.shortcut.toLowerCase().includes(query) || c.title.toLowerCase().includes(query)).slice(0, 8);
  }

  function renderPicker() {
    const query = slashQuery();
    const found = query === null ? [] : matches(query);
    picker.hidden = !found.length;
    clear(picker);
    pickerIndex = Math.min(pickerIndex, Math.max(0, found.length - 1));
    found.forEach((canned, index) => {
      picker.append(h("li", {
        role: "option", class: index === pickerIndex ? "active" : "", "aria-selected": String(index === pickerIndex),
        dataset: { id: canned.id },
        onmousedown: (event) => { event.preventDefault(); insertCanned(canned); },
      }, h("strong", {}, `/${canned.shortcut}`), " ", h("span", { class: "muted" }, canned.title || canned.body.slice(0, 60))));
    });
    return found;
  }

  async function insertCanned(canned) {
    if (!state.open) return;
    try {
      const rendered = await get(`canned-responses/${canned.id}/render/`, { conversation: state.open.id });
      const caret = text.selectionStart;
      const before = text.value.slice(0, caret).replace(/\/[\w-]*$/, "");
      text.value = before + rendered.body + text.value.slice(caret);
      const position = (before + rendered.body).length;
      text.setSelectionRange(position, position);
      picker.hidden = true;
      text.focus();
    } catch (error) {
      report(error);
    }
  }

  // --- Sending ---------------------------------------------------------------------------------

  async function send() {
    if (!state.open || sending) return;
    const body = text.value;
    const chosen = [...files.files];
    errorNode.textContent = "";
    if (!body.trim() && !chosen.length) {
      errorNode.textContent = "Write something first.";
      return;
    }
    const tooBig = chosen.find((file) => file.size > data.max_attachment_bytes);
    if (tooBig) {
      errorNode.textContent = `${tooBig.name} is larger than ${Math.round(data.max_attachment_bytes / 1048576)} MB.`;
      return;
    }
    const payload = new FormData();
    payload.append("body", body);
    payload.append("private", mode() === "note" ? "true" : "false");
    if (mode() !== "note") chosen.forEach((file) => payload.append("attachments", file));
    sending = true;
    $("#send").disabled = true;
    try {
      const message = await request("POST", `conversations/${state.open.id}/messages/`, { form: payload });
      addMessage(message);
      text.value = "";
      files.value = "";
      $("#composer-file-names").textContent = "";
      setTyping(false);
      refreshCounts();
      toast(mode() === "note" ? "Note added." : "Sent.");
    } catch (error) {
      errorNode.textContent = error.message;
    } finally {
      sending = false;
      $("#send").disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("#mode-reply").addEventListener("click", () => setMode("reply"));
  $("#mode-note").addEventListener("click", () => setMode("note"));
  files.addEventListener("change", () => {
    $("#composer-file-names").textContent = [...files.files].map((f) => f.name).join(", ");
  });
  text.addEventListener("input", () => {
    pickerIndex = 0;
    renderPicker();
    setTyping(true);
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(() => setTyping(false), 4000);
  });
  text.addEventListener("blur", () => { picker.hidden = true; setTyping(false); });
  text.addEventListener("keydown", (event) => {
    if (!picker.hidden) {
      const found = matches(slashQuery() || "");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        pickerIndex = (pickerIndex + (event.key === "ArrowDown" ? 1 : found.length - 1)) % found.length;
        renderPicker();
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        if (found[pickerIndex]) insertCanned(found[pickerIndex]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        picker.hidden = true;
        return;
      }
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  setMode("reply");

  return {
    send,
    focus(name) {
      if (!state.open) return;
      setMode(name);
      text.focus();
    },
  };
}
