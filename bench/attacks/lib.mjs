// Shared pieces of the attack scripts (bench/attacks/run.sh): the node's live heap, descriptors and
// RSS, a victim tenant probing the node while an attack runs, and small bounded concurrency helpers.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ACME = process.env.ATTACKER_KEY ?? 'sk-acme-1234567890abcdef';
export const GLOBEX = process.env.VICTIM_KEY ?? 'sk-globex-1234567890abcdef';
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// Live heap: used heap right after a full GC, in MB (jcmd GC.run, then GC.heap_info).
export async function liveHeapMB(pid) {
  await run('jcmd', [String(pid), 'GC.run'], { timeout: 60_000 });
  const { stdout } = await run('jcmd', [String(pid), 'GC.heap_info'], { timeout: 60_000 });
  const match = stdout.match(/heap\s+total \d+K, used (\d+)K/);
  if (!match) throw new Error(`unreadable GC.heap_info: ${stdout}`);
  return round(Number(match[1]) / 1024);
}

export function fds(pid) {
  try { return readdirSync(`/proc/${pid}/fd`).length; } catch { return -1; }
}

export function rssMB(pid) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return round(Number(match[1]) / 1024);
  } catch { return -1; }
}

export function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export const round = x => Math.round(x * 10) / 10;

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
}

export function latencyStats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), max_ms: sorted.length ? round(sorted[sorted.length - 1]) : null };
}

export function countInto(map, key) { map[key] = (map[key] ?? 0) + 1; }

// Runs task(i) for i < count, at most `concurrency` at once, stopping early at the deadline.
export async function pool(count, concurrency, task, deadline = Infinity) {
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return next;
}

export async function post(base, path, key, body, { timeoutMs = 30_000, headers = {} } = {}) {
  const started = performance.now();
  try {
    const response = await fetch(base + path, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: response.status, json, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, error: String(error.cause?.code ?? error.name), ms: performance.now() - started };
  }
}

export async function get(base, path, key, timeoutMs = 10_000) {
  const started = performance.now();
  try {
    const response = await fetch(base + path, { headers: key ? { Authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: response.status, json, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, error: String(error.cause?.code ?? error.name), ms: performance.now() - started };
  }
}

export const VICTIM_REQUEST = {
  model: 'mock', max_tokens: 5, mock_tokens_per_second: 1000, stream: false,
  messages: [{ role: 'user', content: 'Hi' }],
};

// The other tenant (globex): one small chat completion after another (alternating over the given
// nodes), `gapMs` apart, plus GET /health; counts answers, checks each answer's text is the same.
export function victim(bases, { gapMs = 100 } = {}) {
  const state = { running: true, latencies: [], statuses: {}, health: {}, healthMs: [], texts: new Set() };
  const loop = (async () => {
    let i = 0;
    while (state.running) {
      const base = bases[i++ % bases.length];
      const answer = await post(base, '/v1/chat/completions', GLOBEX, VICTIM_REQUEST, { timeoutMs: 15_000 });
      countInto(state.statuses, answer.status);
      if (answer.status === 200) {
        state.latencies.push(answer.ms);
        state.texts.add(answer.json?.choices?.[0]?.message?.content);
      }
      if (i % 5 === 0) {
        const health = await get(base, '/health', null, 15_000);
        countInto(state.health, health.status);
        state.healthMs.push(health.ms);
      }
      await sleep(gapMs);
    }
  })();
  return {
    async stop() {
      state.running = false;
      await loop;
      return {
        ...latencyStats(state.latencies), statuses: state.statuses, health: state.health,
        health_p99_ms: latencyStats(state.healthMs).p99_ms, health_max_ms: latencyStats(state.healthMs).max_ms,
        distinct_answers: state.texts.size,
      };
    },
  };
}

// Live heap (and descriptors, RSS) every `everyMs` while an attack runs; stop() returns the samples.
export function sampler(pid, everyMs = 5_000) {
  const samples = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await sleep(everyMs);
      if (!running || !alive(pid)) break;
      try { samples.push({ heap_mb: await liveHeapMB(pid), fds: fds(pid), rss_mb: rssMB(pid) }); } catch (error) { samples.push({ error: String(error.message).slice(0, 200) }); }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const heaps = samples.map(s => s.heap_mb).filter(x => x !== undefined);
      return { samples, max_heap_mb: heaps.length ? Math.max(...heaps) : null, max_fds: Math.max(-1, ...samples.map(s => s.fds ?? -1)) };
    },
  };
}
