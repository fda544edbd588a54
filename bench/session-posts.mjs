// Sustained chat-session posts per second (README, "Durable history"): WORKERS concurrent
// clients post one question after another for SECONDS s, each waiting for its 202 (with a
// database, given only once the message is committed), each going round SESSIONS sessions of its
// own so that a question's answer has ended before its session is posted to again; prints posts/s
// and the 202's latency p50/p99 (and any 429, a session still answering). The hub's mock answers
// each question quickly (start it with TOKENBUS_MOCK_DEFAULT_MAX_TOKENS=4
// TOKENBUS_MOCK_TOKENS_PER_SECOND=1000). Needs Node 18+.
//   node bench/session-posts.mjs [seconds] [workers] [sessions per worker]
const SECONDS = Number(process.argv[2] ?? 10);
const WORKERS = Number(process.argv[3] ?? 32);
const SESSIONS = Number(process.argv[4] ?? 8);
const BASE = process.env.TOKENBUS_URL ?? 'http://127.0.0.1:8080';
const headers = { 'content-type': 'application/json' };
if (process.env.KEY) headers.Authorization = `Bearer ${process.env.KEY}`;

async function post(path, body) {
  const response = await fetch(BASE + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text };
}

async function worker(deadline, times, refused) {
  const ids = [];
  for (let i = 0; i < SESSIONS; i++) {
    const created = await post('/v1/sessions', { title: 'bench' });
    if (created.status !== 201) throw new Error(`POST /v1/sessions: ${created.status} ${created.body}`);
    ids.push(JSON.parse(created.body).id);
  }
  let n = 0;
  while (Date.now() < deadline) {
    const id = ids[n % ids.length];
    const started = process.hrtime.bigint();
    const answer = await post(`/v1/sessions/${id}/messages`, { author: 'bench', content: `question ${n++}` });
    const us = Number(process.hrtime.bigint() - started) / 1000;
    if (answer.status === 202) times.push(us);
    else if (answer.status === 429) refused.count++; // its answer still runs: the next one queues
    else throw new Error(`post: ${answer.status} ${answer.body}`);
  }
}

const times = [];
const refused = { count: 0 };
const warm = Date.now() + 2000;
await Promise.all(Array.from({ length: WORKERS }, () => worker(warm, [], refused)));
refused.count = 0;
const started = Date.now();
await Promise.all(Array.from({ length: WORKERS }, () => worker(started + SECONDS * 1000, times, refused)));
const elapsed = (Date.now() - started) / 1000;
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  workers: WORKERS,
  sessions: WORKERS * SESSIONS,
  seconds: elapsed,
  posts_per_second: Math.round(times.length / elapsed),
  ack_ms_p50: +(times[times.length / 2 | 0] / 1000).toFixed(2),
  ack_ms_p99: +(times[times.length * 0.99 | 0] / 1000).toFixed(2),
  refused_429: refused.count,
}));
