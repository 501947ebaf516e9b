/*
 * The web chat widget: a launcher bubble and a chat window for any website.
 *
 *   <script src="https://support.example.com/static/webchat/widget.js" data-inbox="INBOX_TOKEN" async></script>
 *
 * Optional identity verification (the host site's server computes the hashes with the inbox's
 * widget secret: hex(HMAC-SHA256(secret, value))):
 *   data-user-id, data-user-hash, data-user-name, data-user-email, data-email-hash
 *
 * Everything lives in a Shadow DOM (the host page's CSS can't reach it); every text
 * from visitors and agents is inserted with textContent only. Messages written while offline
 * wait in localStorage and are sent on reconnect, each with a client id so a resend after a
 * lost response never makes a second message.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-inbox][src*='webchat/widget.js']");
  if (!script || !script.getAttribute("data-inbox")) return;
  var inboxToken = script.getAttribute("data-inbox");
  var flag = "__inboxWidget_" + inboxToken;
  if (window[flag]) return;
  window[flag] = true;

  var base = new URL(script.src, location.href).origin;
  var apiBase = base + "/channels/webchat/" + encodeURIComponent(inboxToken) + "/";
  var socketBase = base.replace(/^http/, "ws") + "/ws/widget/";
  var storeKey = "inboxWidget:" + inboxToken;
  var identity = {};
  [
    ["user_id", "data-user-id"],
    ["user_hash", "data-user-hash"],
    ["name", "data-user-name"],
    ["email", "data-user-email"],
    ["email_hash", "data-email-hash"],
  ].forEach(function (pair) {
    var value = script.getAttribute(pair[1]);
    if (value) identity[pair[0]] = value;
  });

  // --- Storage (localStorage may be unavailable: then this page load only) -------------------
  var memory = {};
  function load() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || "{}") || {};
    } catch (e) {
      return memory;
    }
  }
  function save(state) {
    memory = state;
    try {
      localStorage.setItem(storeKey, JSON.stringify(state));
    } catch (e) {
      /* private mode or full: keep it in memory */
    }
  }
  function stored() {
    var state = load();
    state.outbox = state.outbox || [];
    return state;
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- DOM ---------------------------------------------------------------------------------
  var CSS = [
    ":host{all:initial !important;position:fixed !important;right:20px !important;bottom:20px !important;",
    "z-index:2147483000 !important;display:block !important;width:auto !important;height:auto !important;",
    "margin:0 !important;padding:0 !important;border:0 !important;transform:none !important;",
    "visibility:visible !important;opacity:1 !important;}",
    "*,*::before,*::after{box-sizing:border-box;}",
    ".root{all:initial;display:block;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;",
    "color:#111827;--accent:#2563eb;}",
    "button{all:initial;cursor:pointer;font:inherit;}",
    ".launcher{display:flex;align-items:center;justify-content:center;width:60px;height:60px;border-radius:50%;",
    "background:var(--accent);color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.25);margin-left:auto;position:relative;}",
    ".launcher:focus-visible{outline:3px solid #93c5fd;outline-offset:2px;}",
    ".launcher svg{width:28px;height:28px;fill:#fff;display:block;}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#dc2626;",
    "color:#fff;font-size:12px;line-height:20px;text-align:center;padding:0 6px;display:none;}",
    ".badge.on{display:block;}",
    ".panel{display:none;flex-direction:column;width:360px;max-width:calc(100vw - 40px);height:520px;",
    "max-height:calc(100vh - 110px);background:#fff;border-radius:16px;overflow:hidden;margin-bottom:14px;",
    "box-shadow:0 12px 40px rgba(0,0,0,.25);border:1px solid #e5e7eb;}",
    ".panel.open{display:flex;}",
    ".header{display:flex;align-items:center;gap:8px;padding:14px 16px;background:var(--accent);color:#fff;}",
    ".title{flex:1;font-weight:600;font-size:16px;color:#fff;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;}",
    ".status{font-size:12px;opacity:.85;color:#fff;}",
    ".close{color:#fff;font-size:22px;line-height:1;padding:0 4px;}",
    ".log{flex:1;overflow-y:auto;padding:14px;background:#f9fafb;display:flex;flex-direction:column;gap:8px;}",
    ".msg{max-width:80%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word;",
    "overflow-wrap:anywhere;}",
    ".msg.in{align-self:flex-end;background:var(--accent);color:#fff;border-bottom-right-radius:4px;}",
    ".msg.out{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px;}",
    ".msg .who{display:block;font-size:11px;color:#6b7280;margin-bottom:2px;}",
    ".msg.pending{opacity:.65;}",
    ".msg .note{display:block;font-size:11px;margin-top:2px;opacity:.9;}",
    ".msg .file{display:block;margin-top:4px;text-decoration:underline;cursor:pointer;color:inherit;font-size:13px;}",
    ".typing{min-height:20px;padding:0 16px;font-size:12px;color:#6b7280;background:#f9fafb;}",
    ".error{display:none;padding:6px 16px;font-size:12px;color:#991b1b;background:#fef2f2;}",
    ".error.on{display:block;}",
    ".composer{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e5e7eb;background:#fff;}",
    "textarea{all:initial;flex:1;font:inherit;color:#111827;resize:none;min-height:38px;max-height:110px;",
    "padding:8px 10px;border:1px solid #d1d5db;border-radius:10px;background:#fff;}",
    "textarea:focus{border-color:var(--accent);outline:none;}",
    ".attach{padding:8px;display:flex;align-items:center;}",
    ".attach svg{width:20px;height:20px;fill:#6b7280;display:block;}",
    ".send{padding:8px 14px;background:var(--accent);color:#fff;border-radius:10px;font-weight:600;}",
    ".send[disabled]{opacity:.5;cursor:default;}",
    "input[type=file]{display:none;}",
    ".survey{align-self:stretch;max-width:none;}",
    ".survey .scale{display:flex;gap:6px;margin:8px 0 6px;}",
    ".survey .scale button{flex:1;text-align:center;padding:6px 0;border:1px solid #d1d5db;border-radius:8px;",
    "background:#fff;color:#111827;}",
    ".survey .scale button[aria-pressed=true]{background:var(--accent);border-color:var(--accent);color:#fff;}",
    ".survey textarea{display:block;box-sizing:border-box;width:100%;min-height:54px;margin-bottom:6px;}",
    ".survey .send{display:inline-block;}",
  ].join("");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var svgNS = "http://www.w3.org/2000/svg";
  function svgIcon(d) {
    var svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var shape = document.createElementNS(svgNS, "path");
    shape.setAttribute("d", d);
    svg.appendChild(shape);
    return svg;
  }

  var host = document.createElement("inbox-chat-widget");
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = document.createElement("style");
  style.textContent = CSS;
  var root = el("div", "root");
  var panel = el("div", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  var header = el("div", "header");
  var titleBox = el("div", "");
  titleBox.style.flex = "1";
  titleBox.style.minWidth = "0";
  var title = el("div", "title", "Chat");
  var status = el("div", "status", "");
  titleBox.appendChild(title);
  titleBox.appendChild(status);
  var closeButton = el("button", "close", "\u00d7");
  closeButton.setAttribute("aria-label", "Close chat");
  header.appendChild(titleBox);
  header.appendChild(closeButton);
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "typing", "");
  var errorBox = el("div", "error", "");
  var form = el("form", "composer");
  var input = el("textarea", "");
  input.setAttribute("rows", "1");
  input.setAttribute("placeholder", "Write a message\u2026");
  input.setAttribute("aria-label", "Message");
  input.setAttribute("maxlength", "5000");
  var fileInput = el("input", "");
  fileInput.setAttribute("type", "file");
  var attachButton = el("button", "attach");
  attachButton.appendChild(svgIcon("M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5h-1.5v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"));
  attachButton.setAttribute("type", "button");
  attachButton.setAttribute("aria-label", "Attach a file");
  var sendButton = el("button", "send", "Send");
  sendButton.setAttribute("type", "submit");
  form.appendChild(fileInput);
  form.appendChild(attachButton);
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(errorBox);
  panel.appendChild(form);

  var launcher = el("button", "launcher");
  launcher.setAttribute("aria-label", "Open chat");
  var icon = svgIcon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z");
  var badge = el("span", "badge", "");
  launcher.appendChild(icon);
  launcher.appendChild(badge);
  root.appendChild(panel);
  root.appendChild(launcher);
  shadow.appendChild(style);
  shadow.appendChild(root);

  // --- State ---------------------------------------------------------------------------------
  var config = null;
  var conversationId = null;
  var ticket = null;
  var socket = null;
  var socketRetry = 0;
  var shown = {}; // message id -> element
  var pendingNodes = {}; // client id -> element
  var unread = 0;
  var flushing = false;
  var started = false;
  var greetingNode = null;

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.className = text ? "error on" : "error";
  }
  function setStatus(text) {
    status.textContent = text;
  }

  function post(path, data) {
    var body = Object.assign({}, identity, data, { token: stored().token || "" });
    return fetch(apiBase + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  function errorText(response, fallback) {
    return response
      .json()
      .then(function (data) { return (data && data.error && data.error.message) || fallback; })
      .catch(function () { return fallback; });
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function renderMessage(message) {
    if (shown[message.id]) {
      // Our own message came back over the socket before the POST answered: drop the placeholder.
      var placeholder = message.client_id && pendingNodes[message.client_id];
      if (placeholder && placeholder !== shown[message.id]) placeholder.remove();
      if (message.client_id) delete pendingNodes[message.client_id];
      return;
    }
    var pending = message.client_id && pendingNodes[message.client_id];
    var node = pending || el("div", "");
    node.className = "msg " + (message.direction === "in" ? "in" : "out");
    while (node.firstChild) node.removeChild(node.firstChild);
    if (message.direction !== "in" && message.sender_name) node.appendChild(el("span", "who", message.sender_name));
    node.appendChild(document.createTextNode(message.body || ""));
    (message.attachments || []).forEach(function (file) {
      var link = el("span", "file", "\u2193 " + file.filename);
      link.setAttribute("role", "link");
      link.tabIndex = 0;
      link.addEventListener("click", function () { download(file); });
      node.appendChild(link);
    });
    if (pending) delete pendingNodes[message.client_id];
    else log.appendChild(node);
    shown[message.id] = node;
    if (message.sender_kind === "system" && !replaying) checkSurvey(); // a survey arrives as a system message
    if (message.direction !== "in" && !panel.classList.contains("open")) {
      unread += 1;
      badge.textContent = String(unread);
      badge.className = "badge on";
    }
    scrollDown();
  }

  // --- Satisfaction survey: asked inline after the conversation is resolved -----------------
  var surveyNode = null;
  var surveyShown = null;
  var replaying = false; // history being drawn: one survey check after it, not one per message
  function checkSurvey() {
    if (!stored().token) return;
    post("survey/", {})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.survey) renderSurvey(data.survey); })
      .catch(function () { /* asked again on the next session */ });
  }

  function renderSurvey(survey) {
    if (surveyShown === survey.id) return;
    surveyShown = survey.id;
    if (surveyNode) surveyNode.remove();
    surveyNode = el("div", "msg out survey");
    // The question itself came as the message above; this is where it is answered.
    surveyNode.appendChild(el("span", "who", "Your rating"));
    var scale = el("div", "scale");
    scale.setAttribute("role", "group");
    scale.setAttribute("aria-label", "Rating from 1 (poor) to 5 (excellent)");
    var chosen = null;
    var buttons = [1, 2, 3, 4, 5].map(function (value) {
      var button = el("button", "", String(value));
      button.setAttribute("type", "button");
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", "Rate " + value + " of 5");
      button.addEventListener("click", function () {
        chosen = value;
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
        submit.disabled = false;
      });
      scale.appendChild(button);
      return button;
    });
    var comment = el("textarea", "");
    comment.setAttribute("placeholder", "Anything to add? (optional)");
    comment.setAttribute("aria-label", "Comment");
    comment.setAttribute("maxlength", "2000");
    var submit = el("button", "send", "Send rating");
    submit.setAttribute("type", "button");
    submit.disabled = true;
    submit.addEventListener("click", function () {
      if (!chosen) return;
      submit.disabled = true;
      post("survey/", { survey: survey.id, rating: chosen, comment: comment.value })
        .then(function (response) {
          if (!response.ok) return errorText(response, "The rating could not be sent.").then(function (text) { throw new Error(text); });
          while (surveyNode.firstChild) surveyNode.removeChild(surveyNode.firstChild);
          surveyNode.appendChild(el("div", "", "Thank you for your rating!"));
        })
        .catch(function (error) {
          submit.disabled = false;
          showError(error.message);
        });
    });
    surveyNode.appendChild(scale);
    surveyNode.appendChild(comment);
    surveyNode.appendChild(submit);
    log.appendChild(surveyNode);
    scrollDown();
  }

  function renderPending(item, note) {
    var node = pendingNodes[item.client_id];
    if (!node) {
      node = el("div", "msg in pending");
      pendingNodes[item.client_id] = node;
      log.appendChild(node);
    }
    while (node.firstChild) node.removeChild(node.firstChild);
    node.appendChild(document.createTextNode(item.body));
    node.appendChild(el("span", "note", note));
    scrollDown();
  }

  function download(file) {
    post("attachments/" + encodeURIComponent(file.id) + "/", {})
      .then(function (response) {
        if (!response.ok) throw new Error("download failed");
        return response.blob();
      })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = file.filename;
        a.rel = "noopener";
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
      })
      .catch(function () { showError("The file could not be downloaded."); });
  }

  // --- Session and socket --------------------------------------------------------------------
  function applySession(data) {
    var state = stored();
    state.token = data.token;
    save(state);
    config = data.config;
    title.textContent = config.title || "Chat";
    if (/^#[0-9a-fA-F]{3,8}$/.test(config.color || "")) root.style.setProperty("--accent", config.color);
    if (!greetingNode && config.greeting) {
      greetingNode = el("div", "msg out", config.greeting);
      log.insertBefore(greetingNode, log.firstChild);
    }
    replaying = true;
    (data.messages || []).forEach(renderMessage);
    replaying = false;
    setConversation(data.conversation_id, data.ticket);
    checkSurvey();
  }

  function setConversation(id, newTicket) {
    if (!id) return;
    var changed = id !== conversationId;
    conversationId = id;
    ticket = newTicket || ticket;
    if (changed || !socket) connect();
  }

  function startSession() {
    return post("session/", {})
      .then(function (response) {
        if (!response.ok) {
          return errorText(response, "The chat is unavailable right now.").then(function (text) {
            throw new Error(text);
          });
        }
        return response.json();
      })
      .then(function (data) {
        started = true;
        showError("");
        setStatus("");
        applySession(data);
        flush();
      });
  }

  function connect() {
    if (!ticket || !conversationId) return;
    if (socket) {
      socket.onclose = null;
      try { socket.close(); } catch (e) { /* already closed */ }
    }
    var ws = new WebSocket(socketBase + "?ticket=" + encodeURIComponent(ticket));
    socket = ws;
    ticket = null; // a ticket is for one connection; reconnects ask for a fresh one (and catch up)
    ws.onopen = function () {
      socketRetry = 0;
      setStatus("");
    };
    host.setAttribute("data-live", "connecting");
    ws.onmessage = function (frame) {
      var data;
      try { data = JSON.parse(frame.data); } catch (e) { return; }
      if (data.type === "hello") {
        host.setAttribute("data-live", "yes");
      } else if (data.type === "message.created" && data.message) {
        renderMessage(data.message);
        typing.textContent = "";
      } else if (data.type === "typing") {
        typing.textContent = data.is_typing ? (data.sender_name || "Someone") + " is typing\u2026" : "";
      }
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      host.setAttribute("data-live", "no");
      if (event.code === 4403) return;
      socketRetry = Math.min(socketRetry + 1, 6);
      setTimeout(reconnect, Math.min(30000, 500 * Math.pow(2, socketRetry)));
    };
  }

  function reconnect() {
    if (socket) return;
    startSession().catch(function () {
      setStatus("Offline \u2014 reconnecting\u2026");
      socketRetry = Math.min(socketRetry + 1, 6);
      setTimeout(reconnect, Math.min(30000, 500 * Math.pow(2, socketRetry)));
    });
  }

  var lastTypingSent = 0;
  var typingTimer = null;
  function sendTyping(isTyping) {
    if (!socket || socket.readyState !== 1) return;
    socket.send(JSON.stringify({ type: "typing", is_typing: isTyping }));
  }
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTypingSent > 2000) {
      lastTypingSent = now;
      sendTyping(true);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () {
      lastTypingSent = 0;
      sendTyping(false);
    }, 3000);
  });

  // --- Sending ---------------------------------------------------------------------------------
  function context() {
    return { page_url: location.href, referrer: document.referrer || "" };
  }

  function flush() {
    if (flushing || !started) return;
    var state = stored();
    if (!state.outbox.length) return;
    flushing = true;
    var item = state.outbox[0];
    renderPending(item, "Sending\u2026");
    post("messages/", Object.assign({ body: item.body, client_id: item.client_id }, item.context))
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (data) {
            dropFromOutbox(item.client_id);
            renderMessage(data.message);
            setConversation(data.conversation_id, data.ticket);
            flushing = false;
            flush();
          });
        }
        if (response.status === 429) {
          var wait = parseInt(response.headers.get("Retry-After") || "5", 10);
          renderPending(item, "Waiting to send\u2026");
          flushing = false;
          setTimeout(flush, Math.max(1, wait) * 1000);
          return null;
        }
        if (response.status === 401) {
          // The token is no longer valid: start over as a new visitor, then send.
          var fresh = stored();
          delete fresh.token;
          save(fresh);
          flushing = false;
          started = false;
          return startSession();
        }
        return errorText(response, "This message could not be sent.").then(function (text) {
          dropFromOutbox(item.client_id);
          renderPending(item, "Not sent: " + text);
          delete pendingNodes[item.client_id];
          flushing = false;
          flush();
        });
      })
      .catch(function () {
        // Offline (or the server is): keep it queued and try again when we're back.
        renderPending(item, "Queued \u2014 will send when you're back online");
        setStatus("Offline");
        flushing = false;
        setTimeout(flush, 5000);
      });
  }

  function dropFromOutbox(clientId) {
    var state = stored();
    state.outbox = state.outbox.filter(function (queued) { return queued.client_id !== clientId; });
    save(state);
  }

  function queue(body) {
    var state = stored();
    var item = { client_id: newClientId(), body: body, context: context() };
    state.outbox.push(item);
    save(state);
    renderPending(item, navigator.onLine === false ? "Queued \u2014 will send when you're back online" : "Sending\u2026");
    flush();
  }

  function sendFile(file) {
    if (config && file.size > config.max_attachment_bytes) {
      showError(file.name + " is too large.");
      return;
    }
    var data = new FormData();
    var fields = Object.assign({}, identity, context(), { token: stored().token || "", client_id: newClientId() });
    Object.keys(fields).forEach(function (key) { data.append(key, fields[key]); });
    data.append("attachments", file, file.name);
    fetch(apiBase + "messages/", { method: "POST", mode: "cors", credentials: "omit", body: data })
      .then(function (response) {
        if (!response.ok) {
          return errorText(response, "The file could not be sent.").then(function (text) { showError(text); });
        }
        return response.json().then(function (result) {
          showError("");
          renderMessage(result.message);
          setConversation(result.conversation_id, result.ticket);
        });
      })
      .catch(function () { showError("You're offline: the file was not sent."); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    input.value = "";
    clearTimeout(typingTimer);
    lastTypingSent = 0;
    sendTyping(false);
    queue(body);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files[0]) sendFile(fileInput.files[0]);
    fileInput.value = "";
  });

  function open() {
    panel.className = "panel open";
    launcher.setAttribute("aria-label", "Close chat");
    unread = 0;
    badge.className = "badge";
    var state = stored();
    state.open = true;
    save(state);
    scrollDown();
    input.focus();
  }
  function close() {
    panel.className = "panel";
    launcher.setAttribute("aria-label", "Open chat");
    var state = stored();
    state.open = false;
    save(state);
  }
  launcher.addEventListener("click", function () {
    if (panel.classList.contains("open")) close();
    else open();
  });
  closeButton.addEventListener("click", close);
  window.addEventListener("online", function () {
    setStatus("");
    if (!started) reconnect();
    flush();
  });
  window.addEventListener("offline", function () { setStatus("Offline"); });

  function mount() {
    (document.body || document.documentElement).appendChild(host);
    // Show what is still waiting from an earlier page load at once, then sync.
    stored().outbox.forEach(function (item) { renderPending(item, "Queued \u2014 will send when you're back online"); });
    if (stored().open) open();
    startSession().catch(function (error) {
      showError(error && error.message ? error.message : "The chat is unavailable right now.");
      setTimeout(reconnect, 3000);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
