// The tokenbus dashboard: one WebSocket on /v1/ws watching the cluster feed (a snapshot per node
// per second) and the generations feed (started, progress, finished), plus one subscription to the
// generation whose text is being watched. Frames only change the state below; the DOM is redrawn
// from it at most RENDERS_PER_SECOND times a second, so a thousand running generations cost a few
// redraws a second, not one per frame.

const $ = id => document.getElementById(id);

const KEY = 'tokenbus.dashboard.key'; // sessionStorage: this tab only, gone when it closes
const PAGE_SIZE = 50;
const NODE_SILENCE_MS = 3000; // a node not heard from for this long is gone
const HISTORY_SECONDS = 300;
const EVENTS_KEPT = 50;
const RENDERS_PER_SECOND = 4;

const oneColumn = window.matchMedia('(max-width: 800px)'); // as dashboard.css
const number = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

let key = sessionStorage.getItem(KEY);
let socket = null;
let retryDelay = 1000;
let retryTimer = null;

const nodes = new Map(); // node id -> { frame, heard }
const running = new Map(); // generation id -> its latest figures
const events = []; // errors and recoveries, newest first
const rate = []; // the cluster's tokens per second, one sample a second, oldest first
let page = 0;
const rowCache = new Map(); // generation id -> { row, cells } of the rows on the page
let selected = null; // the generation whose text is watched: { id, model, seq, ended, state, pending, reset }

// ---- rendering, batched ----
const dirty = new Set();
let renderQueued = false;
let lastRender = 0;

function changed(part) {
  dirty.add(part);
  if (renderQueued) return;
  renderQueued = true;
  const wait = Math.max(0, lastRender + 1000 / RENDERS_PER_SECOND - performance.now());
  setTimeout(() => requestAnimationFrame(render), wait);
}

function render() {
  renderQueued = false;
  lastRender = performance.now();
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has('nodes')) renderNodes();
  if (parts.has('rate')) renderRate();
  if (parts.has('running')) renderRunning();
  if (parts.has('stream')) renderStream();
  if (parts.has('events')) renderEvents();
}

const el = (tag, className, text) => {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
};

const mib = bytes => `${number.format(Math.round(bytes / 1048576))} MiB`;
const perSecond = value => ((value ?? 0) < 100 ? decimal.format(value ?? 0) : number.format(Math.round(value)));
const millis = value => (value === null || value === undefined ? '–' : `${number.format(Math.round(value))} ms`);

function age(createdSeconds) {
  const seconds = Math.max(0, Math.floor(Date.now() / 1000 - createdSeconds));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function renderNodes() {
  const cards = [...nodes.values()]
    .sort((a, b) => a.frame.node.localeCompare(b.frame.node))
    .map(({ frame }) => {
      const card = el('article', 'node');
      card.dataset.node = frame.node;
      card.append(el('h3', 'node-id', frame.node));
      const figures = el('dl', 'figures');
      const heap = el('meter');
      heap.min = 0;
      heap.max = frame.heap_max_bytes || 1;
      heap.value = frame.heap_used_bytes || 0;
      heap.title = 'heap used';
      for (const [label, value, extra] of [
        ['Connections', number.format(frame.connections ?? 0)],
        ['Viewers', number.format(frame.viewers ?? 0)],
        ['Generations', number.format(frame.generations ?? 0)],
        ['Tokens/s', perSecond(frame.tokens_per_second)],
        ['Loop delay', millis(frame.event_loop_delay_ms)],
        ['Heap', `${mib(frame.heap_used_bytes ?? 0)} / ${mib(frame.heap_max_bytes ?? 0)}`, heap],
      ]) {
        const item = el('div', 'figure');
        const value_ = el('dd', null, value);
        if (extra) value_.append(extra);
        item.append(el('dt', null, label), value_);
        figures.append(item);
      }
      card.append(figures);
      return card;
    });
  $('nodes').replaceChildren(...cards);
  $('nodes-empty').hidden = cards.length > 0;
  const members = [...nodes.values()].reduce((most, n) => Math.max(most, n.frame.members ?? 0), 0);
  $('node-count').textContent = cards.length === 0 ? ''
    : `${cards.length} reporting${members > cards.length ? ` of ${members} members` : ''}`;
}

function renderRate() {
  const canvas = $('rate-chart');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const peak = rate.reduce((most, value) => Math.max(most, value), 0);
  const top = niceCeiling(peak);
  canvas.dataset.points = String(rate.length);
  canvas.dataset.peak = String(peak);
  $('rate-max').textContent = `${number.format(top)} tok/s`;
  $('rate-now').textContent = rate.length ? `${perSecond(rate[rate.length - 1])} now` : '';
  if (rate.length === 0) return;
  const style = getComputedStyle(document.documentElement);
  const accent = style.getPropertyValue('--accent').trim() || '#2457d6';
  const step = width / (HISTORY_SECONDS - 1);
  const x = i => width - (rate.length - 1 - i) * step;
  const y = value => height - 1 - (value / top) * (height - 4);
  context.beginPath();
  context.moveTo(x(0), y(rate[0]));
  for (let i = 1; i < rate.length; i++) context.lineTo(x(i), y(rate[i]));
  context.lineWidth = 2;
  context.lineJoin = 'round';
  context.strokeStyle = accent;
  context.stroke();
  context.lineTo(x(rate.length - 1), height);
  context.lineTo(x(0), height);
  context.closePath();
  context.globalAlpha = 0.15;
  context.fillStyle = accent;
  context.fill();
  context.globalAlpha = 1;
}

/** The smallest of 1, 2, 5 times a power of ten at or above value (at least 10). */
function niceCeiling(value) {
  if (value <= 10) return 10;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) {
    if (value <= factor * power) return factor * power;
  }
  return 10 * power;
}

function sortedRunning() {
  return [...running.values()].sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1));
}

function renderRunning() {
  const all = sortedRunning();
  const pages = Math.max(1, Math.ceil(all.length / PAGE_SIZE));
  page = Math.min(page, pages - 1);
  const from = page * PAGE_SIZE;
  const shown = all.slice(from, from + PAGE_SIZE);
  // Rows are kept and their cells rewritten only where a figure changed: a row replaced under the
  // pointer between press and release would swallow the click.
  const rows = shown.map(g => {
    let entry = rowCache.get(g.id);
    if (!entry) {
      const row = el('tr');
      row.dataset.id = g.id;
      row.tabIndex = 0;
      const cells = [el('td', 'model'), el('td'), el('td', 'col-node'), ...[0, 1, 2, 3, 4].map(() => el('td', 'num'))];
      row.append(...cells);
      entry = { row, cells };
      rowCache.set(g.id, entry);
    }
    const values = [
      g.model ?? '', g.tenant ?? '', g.node ?? '', number.format(g.viewers ?? 0), number.format(g.tokens ?? 0),
      perSecond(g.tokens_per_second), millis(g.time_to_first_token_ms), age(g.created),
    ];
    values.forEach((value, i) => {
      if (entry.cells[i].textContent !== value) entry.cells[i].textContent = value;
    });
    entry.row.setAttribute('aria-selected', String(selected !== null && selected.id === g.id));
    return entry.row;
  });
  const body = $('running-rows');
  if (rows.length !== body.children.length || rows.some((row, i) => body.children[i] !== row)) {
    body.replaceChildren(...rows);
  }
  const kept = new Set(shown.map(g => g.id));
  for (const id of rowCache.keys()) {
    if (!kept.has(id)) rowCache.delete(id);
  }
  $('running-empty').hidden = all.length > 0;
  $('running-count').textContent = all.length ? number.format(all.length) : '';
  $('page-info').textContent = all.length === 0 ? ''
    : `${number.format(from + 1)}–${number.format(from + shown.length)} of ${number.format(all.length)}`;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
  $('running').closest('.running-card').querySelector('.pager').hidden = pages === 1;
}

function renderStream() {
  const card = $('stream-text').closest('.stream-card');
  if (!selected) {
    card.dataset.state = '';
    return;
  }
  const text = $('stream-text');
  const stick = text.scrollHeight - text.scrollTop - text.clientHeight < 40;
  if (selected.reset) {
    text.replaceChildren();
    selected.reset = false;
  }
  if (selected.pending) {
    text.append(document.createTextNode(selected.pending));
    selected.pending = '';
  }
  if (stick) text.scrollTop = text.scrollHeight;
  $('stream-id').textContent = `${selected.model ? `${selected.model} · ` : ''}${selected.id}`;
  $('stream-state').textContent = selected.state;
  card.dataset.state = selected.ended ? selected.end : 'streaming';
  card.dataset.generation = selected.id;
}

function renderEvents() {
  $('events').replaceChildren(...events.map(event => {
    const item = el('li', 'event');
    item.dataset.id = event.id;
    item.dataset.kind = event.kind;
    const time = el('time', null, new Date(event.at).toLocaleTimeString());
    time.dateTime = new Date(event.at).toISOString();
    item.append(
      time,
      el('span', 'badge', event.kind),
      el('span', 'what', `${event.model ?? ''} · ${event.tenant ?? ''} · ${event.node ?? ''}`),
      el('span', 'detail', event.detail),
      el('code', 'id', event.id),
    );
    return item;
  }));
  $('events-empty').hidden = events.length > 0;
}

// ---- what the frames change ----
function remember(event) {
  events.unshift({ at: Date.now(), ...event });
  events.length = Math.min(events.length, EVENTS_KEPT);
  changed('events');
}

// Recoveries already reported, by generation: kept across reconnects, so that the state a new
// socket starts with does not report them again.
const recoveriesSeen = new Map();

/** Records a recovery when a generation's count rose since it was last seen. */
function recoveries(generation) {
  const count = generation.recoveries ?? 0;
  if (count > (recoveriesSeen.get(generation.id) ?? 0)) {
    recoveriesSeen.set(generation.id, count);
    remember({
      kind: 'recovery', id: generation.id, model: generation.model, tenant: generation.tenant,
      node: generation.node, detail: `recovered (${count} so far)`,
    });
  }
}

const feed = {
  'generation.started': f => {
    const generation = { ...running.get(f.id), ...f };
    running.set(f.id, generation);
    recoveries(generation);
    changed('running');
  },
  'generation.progress': f => {
    const generation = running.get(f.id);
    if (!generation) return; // not known here: only a started frame adds a row
    for (const field of ['node', 'tokens', 'tokens_per_second', 'viewers', 'recoveries', 'time_to_first_token_ms']) {
      if (f[field] !== undefined) generation[field] = f[field];
    }
    recoveries(generation);
    changed('running');
  },
  'generation.finished': f => {
    const known = running.get(f.id);
    running.delete(f.id);
    changed('running');
    if (f.status !== 'completed') {
      remember({
        kind: f.status, id: f.id, model: f.model, tenant: f.tenant, node: f.node,
        detail: `${f.status} after ${number.format(Math.round((f.duration_ms ?? 0) / 1000))} s,`
          + ` ${number.format(f.tokens ?? 0)} tokens`,
      });
    } else {
      recoveries({ ...known, ...f });
    }
    recoveriesSeen.delete(f.id);
  },
  'cluster.node': f => {
    nodes.set(f.node, { frame: f, heard: performance.now() });
    changed('nodes');
  },
  'cluster.node_left': f => {
    nodes.delete(f.node);
    changed('nodes');
  },
  // The socket fell too far behind and frames were dropped: the feed's state follows again.
  'feed.reset': f => {
    if (f.feed === 'generations') running.clear();
    if (f.feed === 'cluster') nodes.clear();
    changed('running');
    changed('nodes');
  },
  watching: f => {
    if (f.feed !== 'generations') return;
    for (const id of recoveriesSeen.keys()) { // ended while this page was away
      if (!running.has(id)) recoveriesSeen.delete(id);
    }
  },
  error: f => {
    $('notice').textContent = f.message ?? f.code ?? 'The hub refused a request';
  },
};

/** A frame of the watched generation's own stream (it names the generation). */
function onStream(f) {
  if (!selected || f.generation !== selected.id) return; // a late frame of one left behind
  if (f.seq === undefined || f.seq === null) {
    // a protocol error about it (it ended and expired, the socket watches too many...)
    if (f.type === 'error') finish('failed', f.message ?? f.code);
    return;
  }
  if (f.seq <= selected.seq) return;
  selected.seq = f.seq;
  switch (f.type) {
    case 'delta':
      selected.pending += f.text ?? '';
      break;
    case 'reset': // the upstream broke and the answer starts over
      selected.pending = '';
      selected.reset = true;
      break;
    case 'recovery':
      selected.state = `streaming… (recovering: ${f.kind ?? 'retry'})`;
      break;
    case 'done':
      finish('done', `done${f.finish_reason ? ` (${f.finish_reason})` : ''}`);
      break;
    case 'error':
      finish('failed', `failed: ${f.message ?? f.code ?? 'error'}`);
      break;
    case 'cancelled':
      finish('cancelled', 'cancelled');
      break;
    default:
      break;
  }
  changed('stream');
}

function finish(end, state) {
  selected.ended = true;
  selected.end = end;
  selected.state = state;
  changed('stream');
}

function select(id) {
  if (selected && selected.id === id) return;
  if (selected && !selected.ended) send({ type: 'unsubscribe', generation: selected.id });
  selected = {
    id, model: running.get(id)?.model, seq: 0, ended: false, end: '', state: 'streaming…', pending: '', reset: true,
  };
  send({ type: 'subscribe', generation: id });
  changed('stream');
  changed('running');
  if (oneColumn.matches) $('stream-title').scrollIntoView({ block: 'start' }); // below the table on a phone
}

// Once a second: one point of the chart, and silent nodes leave.
setInterval(() => {
  const now = performance.now();
  for (const [id, node] of nodes) {
    if (now - node.heard > NODE_SILENCE_MS) nodes.delete(id);
  }
  let sum = 0;
  for (const node of nodes.values()) sum += node.frame.tokens_per_second ?? 0;
  if (socket && socket.readyState === WebSocket.OPEN) {
    rate.push(sum);
    if (rate.length > HISTORY_SECONDS) rate.shift();
  }
  changed('nodes');
  changed('rate');
  changed('running'); // ages
}, 1000);

// ---- the connection ----
function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function status(text, live = false) {
  $('connection').textContent = text;
  $('connection').className = live ? 'connection live' : 'connection';
}

function retryLater() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(start, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30000);
}

// A refused WebSocket handshake tells the page nothing but that it closed, and the browser logs the
// URL it tried (the key in its query) to the console. So the key is checked first by an ordinary
// request carrying it in a header; only a hub that takes it gets the socket.
async function start() {
  clearTimeout(retryTimer);
  let response;
  try {
    response = await fetch('/v1/models', {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
      cache: 'no-store',
    });
  } catch {
    status('hub unreachable, retrying…');
    retryLater();
    return;
  }
  if (response.status === 401) {
    askKey(key ? 'The hub refused that key.' : '');
    return;
  }
  if (!response.ok) {
    const json = await response.json().catch(() => null);
    status('refused');
    $('notice').textContent = json?.error?.message ?? `The hub answered HTTP ${response.status}`;
    showBoard();
    retryLater();
    return;
  }
  showBoard();
  connect();
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = key ? `?access_token=${encodeURIComponent(key)}` : '';
  const ws = new WebSocket(`${scheme}//${location.host}/v1/ws${query}`);
  socket = ws;
  let opened = false;
  status('connecting…');
  ws.onopen = () => {
    opened = true;
    retryDelay = 1000;
    status('live', true);
    $('notice').textContent = '';
    // The feeds start again with the current state: what was shown may have ended meanwhile.
    running.clear();
    nodes.clear();
    changed('running');
    changed('nodes');
    send({ type: 'watch', feed: 'cluster' });
    send({ type: 'watch', feed: 'generations' });
    if (selected && !selected.ended) send({ type: 'subscribe', generation: selected.id, after: selected.seq });
  };
  ws.onmessage = message => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    if (frame.generation !== undefined) onStream(frame);
    else feed[frame.type]?.(frame);
  };
  ws.onclose = close => {
    if (socket !== ws) return;
    socket = null;
    if (close.code === 1008) { // the key expired or was revoked
      askKey('The hub closed the connection: the key is no longer accepted.');
      return;
    }
    status(opened ? 'reconnecting…' : 'disconnected, retrying…');
    retryLater();
  };
}

function showBoard() {
  $('key-panel').hidden = true;
  $('board').hidden = false;
  $('forget-key').hidden = !key;
  changed('rate');
}

function askKey(message) {
  key = null;
  sessionStorage.removeItem(KEY);
  if (socket) {
    const ws = socket;
    socket = null;
    ws.close();
  }
  status('key needed');
  $('board').hidden = true;
  $('forget-key').hidden = true;
  $('key-panel').hidden = false;
  $('key-error').textContent = message;
  $('key').focus();
}

$('key-form').addEventListener('submit', event => {
  event.preventDefault();
  const value = $('key').value.trim();
  $('key').value = ''; // the key lives in sessionStorage, not in the page
  if (!value) return;
  key = value;
  sessionStorage.setItem(KEY, key);
  $('key-error').textContent = '';
  retryDelay = 1000;
  start();
});
$('forget-key').addEventListener('click', () => askKey(''));

$('running-rows').addEventListener('click', event => {
  const row = event.target.closest('tr[data-id]');
  if (row) select(row.dataset.id);
});
$('running-rows').addEventListener('keydown', event => {
  const row = event.target.closest('tr[data-id]');
  if (row && (event.key === 'Enter' || event.key === ' ')) {
    event.preventDefault();
    select(row.dataset.id);
  }
});
$('prev').addEventListener('click', () => { page = Math.max(0, page - 1); changed('running'); });
$('next').addEventListener('click', () => { page += 1; changed('running'); });
window.addEventListener('resize', () => changed('rate'));

start();
