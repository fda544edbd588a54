// Do a scrape of /metrics and a load tool's own figures agree? A three-node cluster under load:
// streamed chat completions, spread over the nodes, each timed by this client (time to its first
// text chunk, tokens received). Each generation's owner is read from its status, so the client's
// figures are grouped by the node that ran it, as each node's metrics count it. Before and after
// the window every node is scraped; tokens per second come from tokenbus_tokens_total{direction=
// "in"}, p99 time to first token from tokenbus_time_to_first_token_seconds_bucket (as Prometheus's
// histogram_quantile computes it). Prints one JSON line per node and the largest difference.
//   node bench/metrics-agreement.mjs --ports 8081,8082,8083 --key <admin key> [--seconds 90]
//     [--concurrency 12] [--tokens 8]
// A p99 needs samples: short generations give a few hundred per node in 90 s.
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const ports = args.ports.split(',');
const key = args.key;
const seconds = Number(args.seconds ?? 90);
const concurrency = Number(args.concurrency ?? 12);
const tokens = Number(args.tokens ?? 8);
const auth = { Authorization: `Bearer ${key}` };

async function scrape(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).text();
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}
const sum = (samples, name, where = {}) => samples
  .filter(s => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

/** histogram_quantile over the bucket increases between two scrapes, as Prometheus does it. */
function quantile(q, before, after, name) {
  const byLe = new Map();
  for (const s of after.filter(s => s.name === name)) byLe.set(s.labels.le, (byLe.get(s.labels.le) ?? 0) + s.value);
  for (const s of before.filter(s => s.name === name)) byLe.set(s.labels.le, (byLe.get(s.labels.le) ?? 0) - s.value);
  const buckets = [...byLe.entries()].map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), c]).sort((a, b) => a[0] - b[0]);
  const total = buckets[buckets.length - 1][1];
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * ((rank - prevCount) / (count - prevCount));
    }
    prevLe = le; prevCount = count;
  }
  return null;
}
const percentile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

async function one(port) {
  // TTFTs of 100 to 250 ms: the mock's first token comes one interval after the start.
  const rate = 4 + Math.random() * 6;
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'mock', stream: true, max_tokens: tokens, mock_tokens_per_second: rate, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  const id = response.headers.get('x-generation-id');
  let ttft = null, count = 0, buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: {')) continue;
      const content = JSON.parse(event.slice(6)).choices?.[0]?.delta?.content;
      if (content) { count++; if (ttft === null) ttft = performance.now() - started; }
    }
  }
  return { id, ttft, count };
}

const before = await Promise.all(ports.map(scrape));
const t0 = performance.now();
const done = [];
let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() - t0 < seconds * 1000) done.push(await one(ports[next++ % ports.length]));
}));
const window = (performance.now() - t0) / 1000;
const after = await Promise.all(ports.map(scrape));
// The node that ran each generation, as its status says.
for (const g of done) {
  const status = await (await fetch(`http://127.0.0.1:${ports[0]}/v1/generations/${g.id}`, { headers: auth })).json();
  g.owner = status.owner;
}
// Each node's own id, from its cluster snapshot: GET /health names it.
const ids = await Promise.all(ports.map(async p => (await (await fetch(`http://127.0.0.1:${p}/health`)).json()).node));
let worst = 0;
ports.forEach((port, i) => {
  const mine = done.filter(g => g.owner === ids[i]);
  const clientTps = mine.reduce((a, g) => a + g.count, 0) / window;
  const clientP99 = percentile(mine.map(g => g.ttft), 0.99);
  const scrapeTps = (sum(after[i], 'tokenbus_tokens_total', { direction: 'in' }) - sum(before[i], 'tokenbus_tokens_total', { direction: 'in' })) / window;
  const scrapeP99 = quantile(0.99, before[i], after[i], 'tokenbus_time_to_first_token_seconds_bucket') * 1000;
  const tpsDiff = (scrapeTps - clientTps) / clientTps;
  const ttftDiff = (scrapeP99 - clientP99) / clientP99;
  worst = Math.max(worst, Math.abs(tpsDiff), Math.abs(ttftDiff));
  console.log(JSON.stringify({
    node: port, generations: mine.length,
    tokens_per_second: { client: +clientTps.toFixed(1), scrape: +scrapeTps.toFixed(1), diff_pct: +(tpsDiff * 100).toFixed(1) },
    ttft_p99_ms: { client: +clientP99.toFixed(1), scrape: +scrapeP99.toFixed(1), diff_pct: +(ttftDiff * 100).toFixed(1) },
  }));
});
console.log(JSON.stringify({ window_seconds: +window.toFixed(1), generations: done.length, worst_diff_pct: +(worst * 100).toFixed(1) }));
