// The tokenbus chat page: create or open a session, join under a name, and follow the session's
// event stream (GET /v1/sessions/{id}/events). EventSource reconnects by itself with Last-Event-ID,
// so a network drop resumes where it stopped; a reload starts from the session's state.
import { renderInto } from '/markdown.js';
import { chatUrl, forgetChat, onRecentChange, recentChats, rememberChat, retitleChat } from '/recent.js';

const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.search);
const sessionId = params.get('session');
const NAME_KEY = 'tokenbus.name';

// A link's token (owner, join or view) travels in the URL fragment, which the browser never sends
// to a server, so no access log holds it. The page passes it on: as a Bearer header on its own
// requests, as access_token where a header cannot be set (EventSource).
const token = new URLSearchParams(location.hash.slice(1)).get('token');

// What a token lets its holder do, read from its payload for the interface only (the hub checks
// every request): 'owner', 'participant' or 'viewer'; null without a token (auth off).
function roleOf(someToken) {
  try {
    const payload = someToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).role ?? null;
  } catch {
    return null;
  }
}
const role = roleOf(token);
const readOnly = role === 'viewer';

const api = async (path, body) => {
  const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new Error(json?.error?.message ?? `HTTP ${response.status}`);
  }
  return json;
};

function show(id) {
  for (const panel of ['landing', 'join-panel', 'chat']) {
    $(panel).hidden = panel !== id;
  }
}

// ---- landing: create a session ----
function landing() {
  show('landing');
  $('create-form').addEventListener('submit', async event => {
    event.preventDefault();
    $('create').disabled = true;
    try {
      const session = await api('/v1/sessions', { title: $('title').value.trim() });
      const ownerToken = session.owner_token ?? null;
      rememberChat({ id: session.id, title: session.title, token: ownerToken, role: roleOf(ownerToken) });
      // The creator continues on the owner's link: it is theirs to keep.
      location.href = session.owner_url ?? `/?session=${encodeURIComponent(session.id)}`;
    } catch (e) {
      $('create-error').textContent = e.message;
      $('create').disabled = false;
    }
  });
  renderRecent();
  onRecentChange(renderRecent);
  $('title').focus();
}

// ---- landing: the chats this browser has opened ----
const ROLE_LABELS = { owner: 'owner', participant: 'participant', viewer: 'read-only' };

function renderRecent() {
  const entries = recentChats();
  $('recent').hidden = entries.length === 0 && !$('recent-error').textContent;
  $('recent-list').replaceChildren(...entries.map(recentItem));
}

function recentItem(entry) {
  const title = entry.title || 'Untitled chat';
  const item = document.createElement('li');
  item.className = 'recent-chat';
  item.dataset.session = entry.id;
  // The link's own address has no token, so copying it never hands one out; a click adds it.
  const open = document.createElement('a');
  open.className = 'recent-open';
  open.href = `/?session=${encodeURIComponent(entry.id)}`;
  const name = document.createElement('span');
  name.className = 'recent-title';
  name.textContent = title;
  const meta = document.createElement('span');
  meta.className = 'recent-meta';
  const when = document.createElement('time');
  when.dateTime = new Date(entry.opened).toISOString();
  when.title = new Date(entry.opened).toLocaleString();
  when.textContent = ago(entry.opened);
  meta.append(when);
  if (ROLE_LABELS[entry.role]) {
    meta.append(` · ${ROLE_LABELS[entry.role]}`);
  }
  open.append(name, meta);
  open.addEventListener('click', event => {
    event.preventDefault();
    if (event.ctrlKey || event.metaKey || event.shiftKey) {
      window.open(chatUrl(entry), '_blank', 'noopener');
    } else {
      reopen(entry, title);
    }
  });
  open.addEventListener('auxclick', event => {
    if (event.button !== 1) return;
    event.preventDefault();
    window.open(chatUrl(entry), '_blank', 'noopener');
  });
  const forget = document.createElement('button');
  forget.type = 'button';
  forget.className = 'secondary forget';
  forget.textContent = 'Forget';
  forget.setAttribute('aria-label', `Forget ${title}`);
  forget.addEventListener('click', () => {
    forgetChat(entry.id);
    renderRecent();
  });
  item.append(open, forget);
  return item;
}

// Asks the hub first, so that a chat that is gone is said here, on the list, and taken off it.
async function reopen(entry, title) {
  $('recent-error').textContent = '';
  let response;
  try {
    const headers = entry.token ? { Authorization: `Bearer ${entry.token}` } : {};
    response = await fetch(`/v1/sessions/${encodeURIComponent(entry.id)}`, { headers });
  } catch {
    location.href = chatUrl(entry); // the network: the chat page retries by itself
    return;
  }
  if (response.status === 404) {
    forgetChat(entry.id);
    $('recent-error').textContent =
      `“${title}” no longer exists (it was deleted or expired), so it was removed from your recent chats.`;
    renderRecent();
    return;
  }
  if (response.status >= 400 && response.status < 500) {
    const json = await response.json().catch(() => null);
    $('recent-error').textContent =
      `“${title}” cannot be opened: ${json?.error?.message ?? `HTTP ${response.status}`}`;
    return;
  }
  location.href = chatUrl(entry);
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function ago(time) {
  const seconds = (Date.now() - time) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return RELATIVE.format(-Math.floor(seconds / 60), 'minute');
  if (seconds < 86400) return RELATIVE.format(-Math.floor(seconds / 3600), 'hour');
  if (seconds < 7 * 86400) return RELATIVE.format(-Math.floor(seconds / 86400), 'day');
  return new Date(time).toLocaleDateString();
}

// ---- the chat ----
const messages = new Map(); // id -> { data, element }
const present = new Set();
const typing = new Map(); // author -> timer
let name = null;
let source = null;

function messageElement(message) {
  const element = document.createElement('article');
  element.className = 'message';
  element.dataset.id = message.id;
  element.dataset.role = message.role;
  const author = document.createElement('div');
  author.className = 'author';
  author.textContent = message.role === 'assistant' ? 'Assistant' : message.author;
  const content = document.createElement('div');
  content.className = 'content';
  element.append(author, content);
  if (message.role === 'assistant') {
    const copy = copyButton('Copy', 'Copy answer', () => messages.get(message.id)?.data.content ?? '');
    copy.classList.add('copy-answer');
    copy.hidden = true; // until the answer is finished
    element.append(copy);
  }
  return element;
}

// ---- copying: an answer's Markdown, a code block's text ----
async function copyText(text) {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // denied (no focus, no permission): try the old way below
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.readOnly = true;
  area.className = 'visually-hidden';
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

function copyButton(label, description, text) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary copy';
  button.textContent = label;
  button.setAttribute('aria-label', description);
  button.addEventListener('click', async () => {
    const copied = await copyText(text());
    button.textContent = copied ? 'Copied' : 'Copy failed';
    setTimeout(() => { button.textContent = label; }, 2000);
  });
  return button;
}

function addCodeCopyButtons(content) {
  for (const block of content.querySelectorAll('.code-block')) {
    const code = block.querySelector('code');
    block.prepend(copyButton('Copy', 'Copy code', () => code.textContent));
  }
}

// How long painting a message takes (render, sanitize, assign), for the browser test that checks a
// long answer streams smoothly.
const renderStats = { count: 0, totalMs: 0, maxMs: 0, lastMs: [] }; // lastMs: the latest 1000
window.tokenbusRenderStats = renderStats;

function paint(entry) {
  const started = performance.now();
  const { data, element } = entry;
  element.dataset.status = data.status ?? '';
  element.classList.toggle('mine', data.role === 'user' && data.author === name);
  const content = element.querySelector('.content');
  content.querySelectorAll(':scope > .note').forEach(old => old.remove());
  renderInto(content, data.content, addCodeCopyButtons); // only sanitized nodes, see markdown.js
  if (data.status === 'stopped') content.append(note('(stopped)'));
  if (data.status === 'failed') content.append(note(`(failed${data.error ? ': ' + data.error : ''})`, 'error'));
  const copy = element.querySelector('.copy-answer');
  if (copy) copy.hidden = data.status !== 'completed';
  entry.painted = true;
  const took = performance.now() - started;
  renderStats.count += 1;
  renderStats.totalMs += took;
  renderStats.maxMs = Math.max(renderStats.maxMs, took);
  renderStats.lastMs.push(took);
  if (renderStats.lastMs.length > 1000) renderStats.lastMs.shift();
}

function note(text, extra) {
  const p = document.createElement('p');
  p.className = extra ? `note ${extra}` : 'note';
  p.textContent = text;
  return p;
}

let paintQueued = new Set();
function schedulePaint(entry) {
  paintQueued.add(entry);
  if (paintQueued.size === 1) {
    requestAnimationFrame(() => {
      const stick = nearBottom();
      paintQueued.forEach(paint);
      paintQueued = new Set();
      if (stick) scrollDown();
      else $('jump').hidden = false; // an answer goes on growing below
    });
  }
}

const nearBottom = () => {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
};
const scrollDown = () => { $('messages').scrollTop = $('messages').scrollHeight; };

function addMessage(message) {
  if (messages.has(message.id)) {
    return;
  }
  const above = [...messages.keys()].at(-1);
  const entry = { data: { ...message }, element: messageElement(message) };
  quoteQuestion(entry, above);
  // Someone reading further up is not pulled down: they are told what is new instead.
  const stick = nearBottom() || (message.role === 'user' && message.author === name);
  messages.set(message.id, entry);
  $('messages').append(entry.element);
  paint(entry);
  if (stick) {
    $('messages').querySelector('.unread-marker')?.remove(); // they have seen what it marked
    scrollDown();
  } else {
    markUnread(entry.element);
  }
  updateStop();
}

// Questions posted while the assistant answered are queued, so an answer can come after other
// messages: it then quotes the question it replies to.
function quoteQuestion(entry, above) {
  const replyTo = entry.data.reply_to;
  const question = messages.get(replyTo);
  if (entry.data.role !== 'assistant' || !question || replyTo === above) return;
  const text = question.data.content.trim().replace(/\s+/g, ' ');
  const quote = document.createElement('blockquote');
  quote.className = 'reply-to';
  quote.textContent = `${question.data.author}: ${text.length > 140 ? `${text.slice(0, 139)}…` : text}`;
  quote.setAttribute('aria-label', `In reply to ${question.data.author}`);
  entry.element.querySelector('.content').before(quote);
}

// ---- reading further up: a marker before the first unread message, a way back down ----
function markUnread(element) {
  if (!$('messages').querySelector('.unread-marker')) {
    const marker = document.createElement('div');
    marker.className = 'unread-marker';
    marker.setAttribute('role', 'separator');
    marker.textContent = 'New messages';
    element.before(marker);
  }
  $('jump').hidden = false;
}

function watchScrolling() {
  $('messages').addEventListener('scroll', () => {
    if (nearBottom()) $('jump').hidden = true;
  }, { passive: true });
  $('jump').addEventListener('click', () => {
    scrollDown();
    $('jump').hidden = true;
  });
}

// The recent chats list shows the session's title, or its first question when it has none.
let sessionTitle = '';
function nameRecentEntry() {
  const first = [...messages.values()].find(m => m.data.role === 'user');
  const question = first ? first.data.content.trim().replace(/\s+/g, ' ') : '';
  retitleChat(sessionId, sessionTitle || (question.length > 80 ? `${question.slice(0, 79)}…` : question));
}

function updateStop() {
  const streaming = [...messages.values()].some(m => m.data.status === 'streaming');
  $('stop').disabled = !streaming;
}

function renderPeople() {
  const list = $('participants');
  list.replaceChildren(...[...present].sort().map(person => {
    const li = document.createElement('li');
    li.textContent = person;
    if (person === name) li.classList.add('me');
    return li;
  }));
  const who = [...typing.keys()].filter(person => person !== name);
  $('typing').textContent = who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`;
}

function onState(state) {
  messages.clear();
  $('messages').replaceChildren();
  state.messages.forEach(addMessage);
  present.clear();
  state.participants.forEach(p => present.add(p));
  sessionTitle = state.title || '';
  $('session-title').textContent = sessionTitle;
  document.title = state.title ? `${state.title} · tokenbus chat` : 'tokenbus chat';
  nameRecentEntry();
  renderPeople();
  updateStop();
}

const handlers = {
  state: data => onState(data.session),
  message: data => {
    addMessage(data.message);
    nameRecentEntry();
  },
  delta: data => {
    const entry = messages.get(data.message_id);
    if (entry) {
      entry.data.content += data.text;
      schedulePaint(entry);
    }
  },
  reset: data => {
    const entry = messages.get(data.message_id);
    if (entry) {
      entry.data.content = '';
      schedulePaint(entry);
    }
  },
  done: data => end(data, 'completed'),
  error: data => end(data, 'failed'),
  cancelled: data => end(data, 'stopped'),
  presence: data => {
    if (data.state === 'joined') present.add(data.author);
    if (data.state === 'left') present.delete(data.author);
    if (data.state === 'typing') {
      clearTimeout(typing.get(data.author));
      typing.set(data.author, setTimeout(() => { typing.delete(data.author); renderPeople(); }, 3000));
    } else {
      clearTimeout(typing.get(data.author));
      typing.delete(data.author);
    }
    renderPeople();
  },
  // The owner deleted the chat: the stream's last event. Do not reconnect into a 404.
  deleted: () => {
    source.close();
    $('connection').textContent = 'deleted';
    $('connection').className = 'connection';
    $('chat-error').textContent = 'This chat was deleted by its owner.';
  },
};

function end(data, status) {
  const entry = messages.get(data.message_id);
  if (!entry) return;
  entry.data.status = status;
  entry.data.finish_reason = data.finish_reason ?? null;
  if (data.error) entry.data.error = data.error.message;
  schedulePaint(entry);
  updateStop();
}

const eventsUrl = () => {
  const query = new URLSearchParams();
  if (name) query.set('author', name); // a viewer only watches: nobody sees them as present
  if (token) query.set('access_token', token);
  return `/v1/sessions/${encodeURIComponent(sessionId)}/events?${query}`;
};
let retryDelay = 1000;

function connect() {
  source = new EventSource(eventsUrl());
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, event => {
      if (type === 'error' && !event.data) return; // the connection's own error event, not the answer's
      handle(JSON.parse(event.data));
    });
  }
  source.onopen = () => {
    retryDelay = 1000;
    $('connection').textContent = 'live';
    $('connection').className = 'connection live';
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      $('connection').textContent = 'disconnected';
      checkGone();
    } else {
      $('connection').textContent = 'reconnecting…';
    }
    $('connection').className = 'connection';
  };
}

// The stream closed for good. EventSource does not say why, so ask once: a refusal (4xx: the
// chat is gone or full, the name is invalid) is shown and not retried; anything else is retried
// with backoff.
async function checkGone() {
  const probe = new AbortController();
  try {
    const response = await fetch(eventsUrl(), { signal: probe.signal });
    if (response.status === 404) {
      forgetChat(sessionId);
      $('chat-error').textContent =
        'This chat no longer exists (it was deleted or expired), so it was removed from your recent chats.';
      return;
    }
    if (response.status >= 400 && response.status < 500) {
      const json = await response.json().catch(() => null);
      $('chat-error').textContent = `This chat is not available: ${json?.error?.message ?? `HTTP ${response.status}`}`;
      return;
    }
  } catch {
    // the network, or the hub restarting: try again below
  } finally {
    probe.abort(); // only the status was wanted: the stream itself is EventSource's
  }
  setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30000);
}

let lastTyping = 0;
// The owner is given the links to hand out: one to join (#share), one to watch only (#share-view).
async function showShareLinks() {
  if (role !== 'owner' && token) return; // participants and viewers cannot invite
  let session;
  try {
    session = await api(`/v1/sessions/${encodeURIComponent(sessionId)}`);
  } catch {
    return;
  }
  for (const [id, url, label] of [['share', session.share_url, 'Share link'], ['share-view', session.view_url, 'Read-only link']]) {
    const link = $(id);
    if (!url) continue;
    link.href = url;
    link.hidden = false;
    link.addEventListener('click', async event => {
      event.preventDefault();
      try {
        await navigator.clipboard.writeText(link.href);
        link.textContent = 'Link copied';
        setTimeout(() => { link.textContent = label; }, 2000);
      } catch {
        prompt('Share this link:', link.href);
      }
    });
  }
}

// A new name takes effect at once: the stream reconnects under it (the old name leaves after the
// hub's presence grace), and the browser remembers it; nothing else in storage changes.
function offerRename() {
  const form = $('rename-form');
  const open = () => {
    $('new-name').value = name;
    form.hidden = false;
    $('rename').hidden = true;
    $('new-name').focus();
    $('new-name').select();
  };
  const close = () => {
    form.hidden = true;
    $('rename').hidden = false;
    $('rename').focus();
  };
  $('rename').hidden = false;
  $('rename').addEventListener('click', open);
  $('rename-cancel').addEventListener('click', close);
  form.addEventListener('keydown', event => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', event => {
    event.preventDefault();
    const value = $('new-name').value.trim();
    if (value && value !== name) {
      name = value;
      localStorage.setItem(NAME_KEY, name);
      source.close();
      connect();
      messages.forEach(({ data, element }) => element.classList.toggle('mine', data.role === 'user' && data.author === name));
      renderPeople();
    }
    close();
  });
}

function chat() {
  show('chat');
  watchScrolling();
  showShareLinks();
  if (readOnly) {
    $('composer').hidden = true;
    $('read-only').hidden = false;
    connect();
    return;
  }
  offerRename();
  const input = $('input');
  $('composer').addEventListener('submit', async event => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    $('send').disabled = true;
    try {
      await api(`/v1/sessions/${encodeURIComponent(sessionId)}/messages`, { author: name, content });
      input.value = '';
      $('chat-error').textContent = '';
    } catch (e) {
      $('chat-error').textContent = e.message;
    } finally {
      $('send').disabled = false;
      input.focus();
    }
  });
  input.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  input.addEventListener('input', () => {
    const now = Date.now();
    if (now - lastTyping > 2000 && input.value.trim()) {
      lastTyping = now;
      api(`/v1/sessions/${encodeURIComponent(sessionId)}/typing`, { author: name }).catch(() => {});
    }
  });
  $('stop').addEventListener('click', () => {
    api(`/v1/sessions/${encodeURIComponent(sessionId)}/stop`, {}).catch(e => { $('chat-error').textContent = e.message; });
  });
  connect();
  input.focus();
}

function join() {
  if (readOnly) { // a view link: no name, no composer
    chat();
    return;
  }
  const stored = localStorage.getItem(NAME_KEY);
  if (stored) {
    name = stored;
    chat();
    return;
  }
  show('join-panel');
  $('name-form').addEventListener('submit', event => {
    event.preventDefault();
    const value = $('name').value.trim();
    if (!value) return;
    name = value;
    localStorage.setItem(NAME_KEY, name);
    chat();
  });
  $('name').focus();
}

if (sessionId) {
  // Opened through a link (or from the recent chats): listed, with the token it came with.
  rememberChat({ id: sessionId, title: '', token, role });
  join();
} else {
  landing();
}
