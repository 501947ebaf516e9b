// The agent inbox: the conversation list, the open conversation, the customer.
// A client of the REST API (every change goes through it) kept live by /ws/agent/.

import { ApiError, get, getAll, patch, post, request } from "./api.js";
import { $, badge, channelIcon, channelLabel, clear, fullTime, h, shortTime } from "./dom.js";
import { LiveSocket } from "./live.js";
import { setupNotifications } from "./notifications.js";
import { setupComposer } from "./composer.js";
import { setupKeyboard } from "./keyboard.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const me = data.me;
const agentsById = new Map(data.agents.map((a) => [a.id, a]));
const teamsById = new Map(data.teams.map((t) => [t.id, t]));
const PRIORITY_RANK = { urgent: 3, high: 2, normal: 1, low: 0 };

const state = {
  view: "all",
  sort: "newest",
  q: "",
  filters: {},
  rows: [], // conversations in the list, in order
  next: null,
  listLoads: 0, // list loads started: an answer to an older one than the latest is stale
  cursor: -1, // keyboard position in the list
  selected: new Set(),
  selectMatching: false,
  open: null, // the open conversation (API representation)
  messages: [], // messages shown in the thread (all of the contact's visible conversations)
  viewers: [],
  typing: new Map(), // name -> timeout
  drafts: [], // the assistant's pending drafts in the open conversation (email draft mode)
  lastSync: new Date().toISOString(),
  connectedBefore: false,
};
window.inboxState = state; // for debugging in the console

// --- Small helpers ------------------------------------------------------------------------------

function toast(message, isError = false) {
  const node = $("#toast");
  node.textContent = message;
  node.classList.toggle("error", isError);
  node.hidden = false;
  window.clearTimeout(toast.timer);
  toast.timer = window.setTimeout(() => (node.hidden = true), isError ? 6000 : 2500);
}

function report(error) {
  console.error(error);
  toast(error instanceof ApiError ? error.message : String(error.message || error), true);
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

function agentName(id) {
  const agent = agentsById.get(id);
  return agent ? agent.name : `#${id}`;
}

// --- Views and their counts --------------------------------------------------------------------

const VIEWS = [
  { name: "all", label: "All", count: (c) => c.all.active + c.all.pending, subs: [
    ["all.active", "Active", (c) => c.all.active],
    ["all.pending", "Pending", (c) => c.all.pending],
    ["all.resolved_today", "Resolved today", (c) => c.all.resolved_today],
  ] },
  { name: "mine", label: "Mine", count: (c) => c.mine.needs_my_attention + c.mine.waiting_for_customer + c.mine.ready_to_close, subs: [
    ["mine.needs_my_attention", "Needs my attention", (c) => c.mine.needs_my_attention],
    ["mine.waiting_for_customer", "Waiting for customer", (c) => c.mine.waiting_for_customer],
    ["mine.ready_to_close", "Ready to close", (c) => c.mine.ready_to_close],
  ] },
  { name: "team", label: "Team", count: (c) => c.team.unassigned + c.team.in_progress, subs: [
    ["team.unassigned", "Unassigned", (c) => c.team.unassigned],
    ["team.in_progress", "In progress", (c) => c.team.in_progress],
    ["team.needs_review", "Needs review", (c) => c.team.needs_review],
  ] },
  { name: "by_channel", label: "By channel", count: null, subs: data.channels.map((ch) => [
    `channel.${ch.kind}`, ch.label, (c) => c.by_channel[ch.kind] || 0,
  ]) },
  { name: "bot_handled", label: "Bot-handled", count: (c) => c.bot_handled, subs: [] },
];

function renderViews(counts) {
  const list = clear($("#view-list"));
  for (const view of VIEWS) {
    const item = h("li", { class: "view-group" });
    if (view.name !== "by_channel") {
      item.append(viewButton(view.name, view.label, counts && view.count ? view.count(counts) : null, "view"));
    } else {
      item.append(h("div", { class: "view-heading" }, view.label));
    }
    if (view.subs.length) {
      item.append(h("ul", {}, view.subs.map(([name, label, count]) =>
        h("li", {}, viewButton(name, label, counts ? count(counts) : null, "subview")))));
    }
    list.append(item);
  }
}

function viewButton(name, label, count, kind) {
  return h("button", {
    type: "button", class: `view-button ${kind}${state.view === name ? " current" : ""}`,
    dataset: { view: name }, "aria-current": state.view === name ? "true" : null,
    onclick: () => selectView(name),
  }, h("span", { class: "view-label" }, label), count === null ? null : h("span", { class: "count" }, String(count)));
}

function selectView(name) {
  state.view = name;
  document.body.classList.remove("views-open");
  renderViews(state.counts);
  loadList();
}

let countsInFlight = false;
async function loadCounts() {
  if (countsInFlight) return;
  countsInFlight = true;
  try {
    state.counts = await get("conversations/counts/");
    renderViews(state.counts);
  } catch (error) {
    report(error);
  } finally {
    countsInFlight = false;
  }
}
const refreshCounts = debounce(loadCounts, 400);

// --- Teammates' availability (live through presence events) -----------------------------------

function renderPresence() {
  const list = clear($("#presence-list"));
  for (const agent of data.agents) {
    list.append(h("li", {
      class: `presence presence-${agent.availability}${agent.connected ? " connected" : ""}`,
      dataset: { user: agent.id }, title: `${agent.availability}; ${agent.connected ? "has the inbox open" : "not in the inbox now"}`,
    },
      h("span", { class: "presence-dot", "aria-hidden": "true" }),
      h("span", { class: "presence-name" }, agent.id === me.id ? `${agent.name} (me)` : agent.name),
      h("span", { class: "presence-state" }, agent.availability)));
  }
}

// --- The list --------------------------------------------------------------------------------

function listParams(extra = {}) {
  // A search looks everywhere (archived conversations stay searchable), not only in the current view.
  const view = state.q ? "" : state.view;
  return { view, sort: state.sort, q: state.q, page_size: 50, ...state.filters, ...extra };
}

async function loadList({ keepSelection = false } = {}) {
  const errorNode = $("#list-error");
  const load = ++state.listLoads;
  try {
    const page = await get("conversations/", listParams());
    // A search, view or sort chosen meanwhile has its own load: this answer is for what was asked before.
    if (load !== state.listLoads) return;
    errorNode.hidden = true;
    state.rows = page.results;
    state.next = page.next;
    if (!keepSelection) {
      state.selected.clear();
      state.selectMatching = false;
    }
    renderList();
  } catch (error) {
    if (load !== state.listLoads) return;
    errorNode.textContent = error.message;
    errorNode.hidden = false;
    if (!(error instanceof ApiError)) report(error);
  }
}

async function loadMore() {
  if (!state.next) return;
  const load = state.listLoads;
  const next = new URL(state.next);
  const page = await request("GET", next.pathname + next.search);
  if (load !== state.listLoads) return;
  state.rows.push(...page.results.filter((row) => !state.rows.some((r) => r.id === row.id)));
  state.next = page.next;
  renderList();
}

function compare(a, b) {
  const time = (c) => new Date(c.last_message_at).getTime();
  switch (state.sort) {
    case "oldest": return time(a) - time(b) || a.id - b.id;
    case "priority": return PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority] || time(b) - time(a) || b.id - a.id;
    case "channel": return a.channel.localeCompare(b.channel) || time(b) - time(a) || b.id - a.id;
    case "assignment": return ((a.assignee && a.assignee.id) || 0) - ((b.assignee && b.assignee.id) || 0) || time(b) - time(a) || b.id - a.id;
    default: return time(b) - time(a) || b.id - a.id;
  }
}

function slaMark(sla) {
  if (!sla || !sla.state) return null;
  const labels = { on_track: "SLA on track", warning: "SLA warning", breached: "SLA breached", met: "SLA met" };
  return h("span", { class: `sla sla-${sla.state}`, title: sla.due_at ? `Due ${fullTime(sla.due_at)}` : "" }, labels[sla.state] || sla.state);
}

function renderRow(conversation, index) {
  const selected = state.selected.has(conversation.id) || state.selectMatching;
  const isOpen = state.open && state.open.id === conversation.id;
  const name = conversation.contact.name || "(no name)";
  return h("li", {
    class: `conversation-row${conversation.unread ? " unread" : ""}${isOpen ? " open" : ""}${index === state.cursor ? " cursor" : ""}`,
    role: "option", "aria-selected": isOpen ? "true" : "false",
    dataset: { id: conversation.id },
  },
  h("input", {
    type: "checkbox", class: "row-select", "aria-label": `Select ${name}`, checked: selected,
    onclick: (event) => { event.stopPropagation(); toggleSelected(conversation.id, event.target.checked); },
  }),
  h("button", { type: "button", class: "row-open", onclick: () => openConversation(conversation.id) },
    h("div", { class: "row-top" },
      channelIcon(conversation.channel),
      h("span", { class: "row-name" }, name),
      conversation.unread ? h("span", { class: "unread-dot", title: "Unread", "aria-label": "Unread" }) : null,
      h("time", { class: "row-time", datetime: conversation.last_message_at, title: fullTime(conversation.last_message_at) },
        shortTime(conversation.last_message_at))),
    h("div", { class: "row-preview" }, conversation.last_message_preview || ""),
    h("div", { class: "row-meta" },
      badge(conversation.status, "status"),
      conversation.priority !== "normal" ? badge(conversation.priority, "priority") : null,
      conversation.handler === "bot" ? h("span", { class: "bot", title: "The assistant is handling it" }, "bot") : null,
      slaMark(conversation.sla),
      h("span", { class: "row-assignee" }, conversation.assignee ? conversation.assignee.name : "Unassigned"))));
}

function renderList() {
  const list = clear($("#conversation-list"));
  state.rows.forEach((row, index) => list.append(renderRow(row, index)));
  if (!state.rows.length) list.append(h("li", { class: "empty" }, "No conversations here."));
  $("#load-more").hidden = !state.next;
  renderBulkBar();
}

// Is the changed conversation in the current list? One small query with the list's own filters.
async function refreshRow(id) {
  const q = `${state.q} id:${id}`.trim();
  const load = state.listLoads;
  let page;
  try {
    page = await get("conversations/", listParams({ q, page_size: 1, view: state.q ? "" : state.view }));
  } catch (error) {
    return; // a search the server refuses is shown by loadList; nothing to add here
  }
  if (load !== state.listLoads) return; // the list was loaded again meanwhile, perhaps for another search
  const fresh = page.results[0];
  const index = state.rows.findIndex((row) => row.id === id);
  if (index >= 0) state.rows.splice(index, 1);
  if (fresh) {
    const position = state.rows.findIndex((row) => compare(fresh, row) < 0);
    if (position === -1) {
      // Past the loaded pages: only append when everything is loaded.
      if (!state.next) state.rows.push(fresh);
    } else {
      state.rows.splice(position, 0, fresh);
    }
  }
  renderList();
  if (state.open && state.open.id === id) {
    if (fresh) updateOpen(fresh);
    else reloadOpen();
  }
}

// --- Selection and bulk actions --------------------------------------------------------------

function toggleSelected(id, on) {
  state.selectMatching = false;
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  renderList();
}

function renderBulkBar() {
  const count = state.selected.size;
  const bar = $("#bulk-bar");
  bar.hidden = !count && !state.selectMatching;
  $("#bulk-count").textContent = state.selectMatching ? "All conversations matching the filter" : `${count} selected`;
  $("#select-matching").hidden = state.selectMatching || !count || count < state.rows.length || !state.next;
  const all = $("#select-all");
  all.checked = state.selectMatching || (state.rows.length > 0 && count === state.rows.length);
  all.indeterminate = !all.checked && count > 0;
  const deleteOption = $('#bulk-action option[value="delete"]');
  if (deleteOption) deleteOption.hidden = !me.is_supervisor;
}

function filterForBulk() {
  const params = listParams();
  delete params.page_size;
  delete params.sort;
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== "" && value !== undefined));
}

async function applyBulk() {
  const choice = $("#bulk-action").value;
  if (!choice) return;
  const [action, value] = choice.split(":");
  const target = state.selectMatching ? { filter: filterForBulk() } : { ids: [...state.selected] };
  if (action === "export") {
    const params = state.selectMatching ? filterForBulk() : { q: `id:${[...state.selected].join(",")}` };
    window.location.assign(`/api/v1/conversations/export.csv?${new URLSearchParams(params)}`);
    return;
  }
  const body = { action, ...target };
  if (action === "status") body.status = value;
  if (action === "assign") body.assignee_id = value === "me" ? me.id : null;
  if (action === "priority") {
    const reason = window.prompt("Reason for the priority change:");
    if (!reason) return;
    body.priority = value;
    body.reason = reason;
  }
  if (action === "delete" && !window.confirm("Delete these conversations for good?")) return;
  try {
    const result = await post("conversations/bulk/", body);
    const refused = result.refused.length ? `, ${result.refused.length} refused (${result.refused[0].message})` : "";
    toast(`${result.changed.length} changed, ${result.unchanged.length} already so${refused}.`, result.refused.length > 0);
    $("#bulk-action").value = "";
    await loadList();
    refreshCounts();
  } catch (error) {
    report(error);
  }
}

// --- The open conversation ---------------------------------------------------------------------

async function openConversation(id, { push = true } = {}) {
  if (state.open && state.open.id !== id) live.send({ type: "typing", conversation_id: state.open.id, is_typing: false });
  try {
    const conversation = await get(`conversations/${id}/`);
    state.open = conversation;
    state.viewers = [];
    state.typing.clear();
    document.body.classList.add("thread-open");
    $("#thread-empty").hidden = true;
    $("#thread").hidden = false;
    renderThreadHead();
    renderList();
    if (push) history.replaceState(null, "", `/inbox/c/${id}/`);
    live.send({ type: "viewing", conversation_id: id });
    await Promise.all([loadMessages(), loadProfile(), loadDrafts()]);
    if (conversation.unread) {
      post(`conversations/${id}/read/`).then((fresh) => { updateOpen(fresh); patchRow(fresh); }).catch(() => {});
    }
  } catch (error) {
    report(error);
  }
}

const markOpenRead = debounce(() => {
  if (!state.open) return;
  const id = state.open.id;
  post(`conversations/${id}/read/`).then((fresh) => { updateOpen(fresh); patchRow(fresh); }).catch(() => {});
}, 800);

function closeConversation() {
  if (!state.open) return;
  live.send({ type: "viewing", conversation_id: null });
  state.open = null;
  state.drafts = [];
  renderDrafts();
  document.body.classList.remove("thread-open", "profile-open");
  $("#thread").hidden = true;
  $("#thread-empty").hidden = false;
  clear($("#profile-panel")).append(h("div", { class: "empty" }, "No customer selected."));
  history.replaceState(null, "", "/inbox/");
  renderList();
}

async function reloadOpen() {
  if (!state.open) return;
  try {
    updateOpen(await get(`conversations/${state.open.id}/`));
  } catch (error) {
    if (error.status === 404) closeConversation();
  }
}

function updateOpen(conversation) {
  if (!state.open || state.open.id !== conversation.id) return;
  state.open = { ...state.open, ...conversation };
  renderThreadHead();
}

function patchRow(conversation) {
  const index = state.rows.findIndex((row) => row.id === conversation.id);
  if (index >= 0) {
    state.rows[index] = { ...state.rows[index], ...conversation };
    renderList();
  }
}

function fillSelect(select, options, value) {
  clear(select);
  for (const [optionValue, label] of options) {
    select.append(h("option", { value: optionValue, selected: String(optionValue) === String(value) }, label));
  }
}

function renderThreadHead() {
  const c = state.open;
  $("#thread-contact").textContent = c.contact.name || "(no name)";
  const meta = clear($("#thread-meta"));
  meta.append(h("span", {}, channelIcon(c.channel), ` ${c.inbox.name} · #${c.id} `, badge(c.status, "status"), " ",
    badge(c.priority, "priority"), " ",
    c.handler === "bot" ? h("span", { class: "bot" }, "the assistant is handling it") : h("span", {}, "human"),
    " · ", c.assignee ? `Assigned to ${c.assignee.name}` : "Unassigned",
    c.team ? ` · ${c.team.name}` : "",
    c.snoozed_until ? ` · snoozed until ${fullTime(c.snoozed_until)}` : "",
    " ", slaMark(c.sla)));
  $("#action-take-over").hidden = c.handler !== "bot" && c.assignee && c.assignee.id === me.id;
  fillSelect($("#action-assign"), [["", "Unassigned"], ...data.agents.map((a) => [a.id, `${a.name}${a.id === me.id ? " (me)" : ""} · ${a.availability}`])], c.assignee ? c.assignee.id : "");
  fillSelect($("#action-transfer"), [["", "Team…"], ...data.teams.map((t) => [t.id, t.name])], "");
  fillSelect($("#action-status"), data.statuses.map((s) => [s.value, s.label]), c.status);
  fillSelect($("#action-priority"), data.priorities.map((p) => [p, p]), c.priority);
  $("#priority-reason-form").hidden = true;
  $("#action-download").href = `/api/v1/conversations/${c.id}/export/?format=txt`;
  const tags = clear($("#thread-tags"));
  for (const tag of c.tags) {
    tags.append(h("span", { class: "tag" }, tag,
      h("button", { type: "button", class: "tag-remove", "aria-label": `Remove tag ${tag}`, onclick: () => act("tags", { remove: [tag] }) }, "×")));
  }
  const summary = $("#thread-summary");
  summary.hidden = !c.summary;
  clear(summary);
  if (c.summary) summary.append(h("strong", {}, "Handoff summary: "), c.summary);
  renderViewers();
  renderTyping();
}

function renderViewers() {
  const others = state.viewers.filter((v) => v.user_id !== me.id);
  $("#thread-viewers").textContent = others.length ? `Also viewing: ${others.map((v) => v.name).join(", ")}` : "";
}

function renderTyping() {
  const names = [...state.typing.keys()];
  $("#typing").textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

async function loadMessages() {
  const c = state.open;
  const id = c.id;
  const shownBefore = new Set(state.messages.map((m) => m.id));
  // The whole history across channels: this conversation and the contact's other ones you may see.
  const contact = await get(`contacts/${c.contact.id}/`);
  const others = contact.conversations.filter((other) => other.id !== id).slice(0, 10);
  const lists = await Promise.all([
    getAll(`conversations/${id}/messages/`, { page_size: 100 }),
    ...others.map((other) => getAll(`conversations/${other.id}/messages/`, { page_size: 100 }, 3)),
  ]);
  if (!state.open || state.open.id !== id) return;
  state.related = new Map(contact.conversations.map((other) => [other.id, other]));
  const fetched = lists.flat();
  const fetchedIds = new Set(fetched.map((m) => m.id));
  // A message added while this load was in flight (her own reply, a live event) may be newer than what
  // the server read: it stays.
  const arrived = state.messages.filter((m) => m.conversation_id === id && !shownBefore.has(m.id) && !fetchedIds.has(m.id));
  state.messages = [...fetched, ...arrived].sort((a, b) => new Date(a.created_at) - new Date(b.created_at) || a.id - b.id);
  renderMessages();
}

function renderMessage(message) {
  const note = message.private;
  const classes = ["message", `from-${message.sender_kind}`, message.direction === "in" ? "inbound" : "outbound"];
  if (note) classes.push("note");
  if (message.conversation_id !== state.open.id) classes.push("earlier");
  return h("li", { class: classes.join(" "), dataset: { id: message.id, conversation: message.conversation_id } },
    h("div", { class: "message-head" },
      channelIcon(message.channel || state.open.channel),
      h("span", { class: "sender" }, message.sender_name || message.sender_kind),
      note ? h("span", { class: "note-mark" }, "Private note") : null,
      message.confidence !== null && message.confidence !== undefined
        ? h("span", { class: `confidence${message.confidence < 0.5 ? " low" : ""}`, title: "The assistant's confidence" }, `confidence ${Math.round(message.confidence * 100)}%`)
        : null,
      h("time", { datetime: message.created_at, title: fullTime(message.created_at) }, fullTime(message.created_at)),
      message.delivery_status ? h("span", { class: `delivery delivery-${message.delivery_status}` }, message.delivery_status) : null),
    message.subject ? h("div", { class: "message-subject" }, message.subject) : null,
    h("div", { class: "message-body" }, message.body),
    (message.attachments || []).length
      ? h("ul", { class: "attachments" }, message.attachments.map((a) =>
        h("li", {}, a.url ? h("a", { href: a.url, target: "_blank", rel: "noopener" }, `Attachment: ${a.filename}`) : `Attachment: ${a.filename}`,
          ` (${Math.ceil(a.size / 1024)} KB)`)))
      : null);
}

// --- The assistant's drafts (email draft mode): reviewed, edited, sent or discarded here --------------

async function loadDrafts() {
  const id = state.open && state.open.id;
  if (!id) return;
  const drafts = await get(`conversations/${id}/drafts/`, { status: "pending" });
  if (!state.open || state.open.id !== id) return;
  state.drafts = drafts;
  renderDrafts();
}

function renderDrafts() {
  const box = clear($("#drafts"));
  box.hidden = state.drafts.length === 0;
  for (const draft of state.drafts) {
    const text = h("textarea", { class: "draft-body", rows: "4", "aria-label": "The assistant's draft reply" });
    text.value = draft.body;
    const confidence = draft.confidence === null || draft.confidence === undefined
      ? null : h("span", { class: "confidence" }, `confidence ${Math.round(draft.confidence * 100)}%`);
    box.append(h("div", { class: "draft", dataset: { id: draft.id } },
      h("div", { class: "draft-head" }, h("strong", {}, "Draft reply from the assistant"), " ", confidence),
      text,
      h("div", { class: "draft-actions" },
        h("button", { type: "button", class: "primary draft-send", onclick: () => draftAction(draft, "send", text.value) }, "Send"),
        h("button", { type: "button", class: "draft-discard", onclick: () => draftAction(draft, "discard") }, "Discard"))));
  }
}

async function draftAction(draft, action, body) {
  try {
    const edited = action === "send" && body.trim() !== draft.body.trim() ? { body } : {};
    await post(`conversations/${draft.conversation_id}/drafts/${draft.id}/${action}/`, edited);
    state.drafts = state.drafts.filter((d) => d.id !== draft.id);
    renderDrafts();
    toast(action === "send" ? "Draft sent." : "Draft discarded.");
  } catch (error) {
    report(error);
    loadDrafts().catch(() => {});
  }
}

function renderMessages() {
  const list = clear($("#messages"));
  let conversationId = null;
  for (const message of state.messages) {
    if (message.conversation_id !== conversationId) {
      conversationId = message.conversation_id;
      const other = state.related && state.related.get(conversationId);
      const label = conversationId === state.open.id
        ? `This conversation · ${channelLabel(state.open.channel)}`
        : `Earlier conversation #${conversationId} · ${channelLabel(other ? other.channel : "")} · ${other ? other.status : ""}`;
      list.append(h("li", { class: "divider" }, label));
    }
    list.append(renderMessage(message));
  }
  list.scrollTop = list.scrollHeight;
}

function addMessage(message) {
  if (state.messages.some((m) => m.id === message.id)) return;
  state.messages.push(message);
  renderMessages();
}

// --- Actions on the open conversation ---------------------------------------------------------

async function act(action, body) {
  if (!state.open) return;
  const id = state.open.id;
  try {
    const fresh = await post(`conversations/${id}/${action}/`, body);
    updateOpen(fresh);
    patchRow(fresh);
    refreshCounts();
    return fresh;
  } catch (error) {
    report(error);
    renderThreadHead();
    return null;
  }
}

function setStatus(status) {
  if (!state.open) return;
  act("status", { status }).then((fresh) => fresh && toast(`Marked ${status}.`));
}

function setupActions() {
  $("#action-take-over").addEventListener("click", () => act("take-over"));
  $("#action-assign").addEventListener("change", (event) => {
    act("assign", { assignee_id: event.target.value ? Number(event.target.value) : null });
  });
  $("#action-transfer").addEventListener("change", (event) => {
    if (event.target.value) act("transfer", { team_id: Number(event.target.value) });
  });
  $("#action-status").addEventListener("change", (event) => setStatus(event.target.value));
  $("#action-priority").addEventListener("change", () => {
    $("#priority-reason-form").hidden = false;
    $("#priority-reason").focus();
  });
  $("#priority-reason-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("priority", { priority: $("#action-priority").value, reason: $("#priority-reason").value });
    $("#priority-reason").value = "";
  });
  $("#priority-cancel").addEventListener("click", () => renderThreadHead());
  $("#tag-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const tag = $("#tag-input").value.trim();
    if (tag) act("tags", { add: [tag] });
    $("#tag-input").value = "";
  });
  for (const tag of data.tags) $("#tag-options").append(h("option", { value: tag }));
  $("#snooze-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#snooze-until").value;
    if (!value) return toast("Pick when the conversation should come back.", true);
    act("snooze", { until: new Date(value).toISOString() });
  });
  $("#thread-back").addEventListener("click", closeConversation);
  $("#toggle-profile").addEventListener("click", () => document.body.classList.toggle("profile-open"));
}

// --- The customer ------------------------------------------------------------------------------

async function loadProfile() {
  const id = state.open.contact.id;
  const contact = await get(`contacts/${id}/`);
  if (!state.open || state.open.contact.id !== id) return;
  const panel = clear($("#profile-panel"));
  const rows = [
    ["Language", contact.language], ["Location", contact.location], ["Segment", contact.is_vip ? `${contact.segment} (VIP)` : contact.segment],
    ["Customer since", fullTime(contact.created_at)], ["Conversations", String(contact.conversation_count)],
  ].filter(([, value]) => value);
  panel.append(h("div", {},
    h("button", { type: "button", class: "icon-button close-profile", "aria-label": "Close", onclick: () => document.body.classList.remove("profile-open") }, "×"),
    h("h2", {}, contact.name || "(no name)"),
    h("dl", { class: "details" }, rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])),
    h("h3", {}, "Identities"),
    h("ul", { class: "identities" }, contact.identities.map((i) => h("li", {}, h("span", { class: "identity-kind" }, i.kind), " ", i.value, i.verified ? " ✓" : ""))),
    Object.keys(contact.custom_attributes || {}).length
      ? [h("h3", {}, "Attributes"), h("dl", { class: "details" }, Object.entries(contact.custom_attributes).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]))]
      : null,
    h("h3", {}, "Conversations"),
    h("ul", { class: "related" }, contact.conversations.map((other) =>
      h("li", { class: other.id === state.open.id ? "current" : "" },
        h("button", { type: "button", class: "link", onclick: () => openConversation(other.id) },
          channelIcon(other.channel), ` #${other.id} `, badge(other.status, "status"), " ", shortTime(other.last_message_at)),
        h("div", { class: "row-preview" }, other.last_message_preview || ""))))));
}

// --- Live events -------------------------------------------------------------------------------

const pendingRows = new Set();
const flushRows = debounce(() => {
  const ids = [...pendingRows];
  pendingRows.clear();
  ids.forEach((id) => refreshRow(id));
}, 150);

function onEvent(event) {
  state.lastSync = new Date().toISOString();
  switch (event.type) {
    case "conversation.created":
    case "conversation.updated": {
      pendingRows.add(event.conversation.id);
      flushRows();
      refreshCounts();
      break;
    }
    case "message.created": {
      const message = event.message;
      if (state.open && state.open.id === message.conversation_id) {
        if (message.attachments.length) loadMessages();
        else addMessage({ ...message, private: message.is_private_note, channel: state.open.channel });
        if (message.direction === "in" || message.sender_kind !== "agent") {
          state.typing.delete(message.sender_name);
          renderTyping();
        }
        // She is looking at it: it is read (unless the page is in the background).
        if (!document.hidden) markOpenRead();
      }
      break;
    }
    case "message.updated": {
      const shown = state.messages.find((m) => m.id === event.message.id);
      if (shown) {
        shown.delivery_status = event.message.delivery_status;
        renderMessages();
      }
      break;
    }
    case "typing": {
      if (!state.open || state.open.id !== event.conversation_id || event.user_id === me.id) break;
      const name = event.sender_name || (event.sender_kind === "contact" ? "The customer" : "An agent");
      window.clearTimeout(state.typing.get(name));
      if (event.is_typing) {
        state.typing.set(name, window.setTimeout(() => { state.typing.delete(name); renderTyping(); }, 6000));
      } else {
        state.typing.delete(name);
      }
      renderTyping();
      break;
    }
    case "conversation.viewers": {
      if (state.open && state.open.id === event.conversation_id) {
        state.viewers = event.viewers;
        renderViewers();
      }
      break;
    }
    case "presence": {
      const agent = agentsById.get(event.user_id);
      if (agent) {
        agent.availability = event.availability;
        if (event.connected !== undefined) agent.connected = event.connected;
      }
      if (event.user_id === me.id) {
        me.availability = event.availability;
        $("#availability").value = event.availability;
      }
      renderPresence();
      if (state.open) renderThreadHead();
      break;
    }
    case "contact.updated": {
      if (state.open && state.open.contact.id === event.contact.id) loadProfile();
      break;
    }
    case "notification.created": {
      notifications.receive(event.notification);
      break;
    }
    case "draft.updated": {
      if (state.open && state.open.id === event.draft.conversation_id) loadDrafts().catch(report);
      break;
    }
    default:
      break;
  }
}

// After a dropped connection: catch up over REST with what changed since the last event.
async function resync() {
  const since = state.lastSync;
  state.lastSync = new Date().toISOString();
  try {
    const changed = await get("conversations/", { updated_since: since, page_size: 100, sort: "newest" });
    loadCounts();
    if (changed.results.length || changed.next) {
      await loadList({ keepSelection: true });
      if (state.open && (changed.next || changed.results.some((c) => c.id === state.open.id))) {
        await reloadOpen();
        await loadMessages();
      }
    }
  } catch (error) {
    report(error);
  }
}

function onOpen() {
  if (state.connectedBefore) resync();
  state.connectedBefore = true;
  if (state.open) live.send({ type: "viewing", conversation_id: state.open.id });
}

function onState(name) {
  const node = $("#connection");
  node.className = `connection ${name}`;
  node.title = { live: "Live", connecting: "Connecting…", offline: "Offline: reconnecting…" }[name] || name;
  document.body.dataset.connection = name;
}

const live = new LiveSocket({ onEvent, onOpen, onState });
window.inboxSocket = live;

// --- Start --------------------------------------------------------------------------------------

function setupList() {
  $("#sort").addEventListener("change", (event) => { state.sort = event.target.value; loadList(); });
  const filters = $("#filters");
  fillSelect(filters.elements.status, [["", "Any status"], ...data.statuses.map((s) => [s.value, s.label])], "");
  fillSelect(filters.elements.channel, [["", "Any channel"], ...data.channels.map((c) => [c.kind, c.label])], "");
  fillSelect(filters.elements.priority, [["", "Any priority"], ...data.priorities.map((p) => [p, p])], "");
  fillSelect(filters.elements.team, [["", "Any team"], ...data.teams.map((t) => [t.id, t.name])], "");
  fillSelect(filters.elements.tag, [["", "Any tag"], ...data.tags.map((t) => [t, t])], "");
  $("#toggle-filters").addEventListener("click", () => {
    filters.hidden = !filters.hidden;
    $("#toggle-filters").setAttribute("aria-expanded", String(!filters.hidden));
  });
  filters.addEventListener("change", () => {
    const values = Object.fromEntries(new FormData(filters).entries());
    const hours = Number(values.created_within || 0);
    delete values.created_within;
    if (hours) values.created_after = new Date(Date.now() - hours * 3600 * 1000).toISOString();
    state.filters = values;
    $("#toggle-filters").textContent = Object.values(values).some(Boolean) ? "Filters •" : "Filters";
    loadList();
  });
  $("#clear-filters").addEventListener("click", () => {
    filters.reset();
    filters.dispatchEvent(new Event("change"));
  });
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = $("#search").value.trim();
    loadList();
  });
  $("#search").addEventListener("search", () => { state.q = $("#search").value.trim(); loadList(); });
  $("#load-more").addEventListener("click", () => loadMore().catch(report));
  $("#select-all").addEventListener("change", (event) => {
    state.selectMatching = false;
    state.selected = new Set(event.target.checked ? state.rows.map((r) => r.id) : []);
    renderList();
  });
  $("#select-matching").addEventListener("click", () => { state.selectMatching = true; renderList(); });
  $("#bulk-apply").addEventListener("click", applyBulk);
  $("#toggle-views").addEventListener("click", () => document.body.classList.toggle("views-open"));
}

function setupAvailability() {
  const select = $("#availability");
  select.value = me.availability;
  select.addEventListener("change", async () => {
    try {
      await patch(`agents/${me.id}/`, { availability: select.value });
      toast(`You are ${select.value}.`);
    } catch (error) {
      report(error);
      select.value = me.availability;
    }
  });
}

function moveCursor(step) {
  if (!state.rows.length) return;
  state.cursor = Math.max(0, Math.min(state.rows.length - 1, state.cursor + step));
  renderList();
  const row = $(`#conversation-list .conversation-row.cursor`);
  if (row) row.scrollIntoView({ block: "nearest" });
}

function openAdjacent(step) {
  if (!state.rows.length) return;
  const index = state.open ? state.rows.findIndex((row) => row.id === state.open.id) : -1;
  const next = Math.max(0, Math.min(state.rows.length - 1, index + step));
  state.cursor = next;
  openConversation(state.rows[next].id);
}

const notifications = setupNotifications({ data, openConversation, report });
const composer = setupComposer({ data, state, live, report, toast, addMessage, refreshCounts });
setupKeyboard({
  state,
  search: () => { $("#search").focus(); $("#search").select(); },
  help: () => { const dialog = $("#help"); if (dialog.open) dialog.close(); else dialog.showModal(); },
  escape: () => {
    if (document.body.classList.contains("profile-open")) document.body.classList.remove("profile-open");
    else if (document.body.classList.contains("views-open")) document.body.classList.remove("views-open");
    else closeConversation();
  },
  move: moveCursor,
  openCursor: () => { if (state.rows[state.cursor]) openConversation(state.rows[state.cursor].id); },
  adjacent: openAdjacent,
  reply: () => composer.focus("reply"),
  note: () => composer.focus("note"),
  assign: () => { if (state.open) $("#action-assign").focus(); },
  download: () => { if (state.open) window.location.assign($("#action-download").href); },
  status: (status) => setStatus(status),
  send: () => composer.send(),
});

setupList();
setupActions();
setupAvailability();
renderViews(null);
renderPresence();
loadCounts();
loadList().then(() => {
  if (data.open_conversation_id) openConversation(data.open_conversation_id, { push: false });
});
live.connect();
// Who is viewing expires unless repeated: say it again while the conversation stays open.
window.setInterval(() => { if (state.open) live.send({ type: "viewing", conversation_id: state.open.id }); }, 25000);
