// Tenant isolation on a two-node cluster (bench/attacks/run.sh starts it): the victim (globex)
// sends small chat completions to both nodes in three back-to-back phases, without the attacker,
// with it, and without it again. The attacker (acme) holds its concurrency limit with slow streams
// on both nodes and sends requests past its rate limit. Prints one JSON line.
//   node bench/attacks/isolation.mjs --ports 8181,8182 --pids 123,456
import { loadavg } from 'node:os';
import { ACME, alive, countInto, liveHeapMB, pool, post, sleep, victim } from './lib.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const BASES = args.ports.split(',').map(port => `http://127.0.0.1:${port}`);
const PIDS = args.pids.split(',').map(Number);
const PHASE_SECONDS = Number(process.env.PHASE_SECONDS ?? 30);
const STREAMS = Number(process.env.STREAMS_N ?? 220);
const ATTACKER_RPS = Number(process.env.ATTACKER_RPS ?? 200);

const heaps = async () => Promise.all(PIDS.map(pid => (alive(pid) ? liveHeapMB(pid) : null)));

async function phase() {
  const probe = victim(BASES, { gapMs: 20 });
  await sleep(PHASE_SECONDS * 1000);
  return { ...(await probe.stop()), load_average_1m: Math.round(loadavg()[0] * 10) / 10 };
}

// Warm-up (not counted): the victim's path compiles on both nodes.
const warm = victim(BASES, { gapMs: 0 });
await sleep(15_000);
await warm.stop();

const heapBefore = await heaps();
const without = await phase();

// The attacker: slow streams until its concurrency limit answers 429, then a steady request rate.
const controller = new AbortController();
setTimeout(() => controller.abort(), PHASE_SECONDS * 1000 + 120_000).unref(); // no stream outlives the attack phase by long
const streams = {}, hammer = {};
const open = [];
const body = JSON.stringify({ model: 'mock', stream: true, max_tokens: 1000, mock_tokens_per_second: 0.01, messages: [{ role: 'user', content: 'x' }] });
await pool(STREAMS, 20, async i => {
  try {
    const response = await fetch(`${BASES[i % BASES.length]}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${ACME}`, 'Content-Type': 'application/json' }, body, signal: controller.signal });
    countInto(streams, response.status);
    if (response.status === 200) open.push(response.body.pipeTo(new WritableStream()).catch(() => {}));
    else await response.text();
  } catch (error) { countInto(streams, `error ${error.cause?.code ?? error.name}`); }
}, Date.now() + 60_000);
let hammering = true;
const hammerLoop = (async () => {
  // ATTACKER_RPS requests a second, over both nodes, bounded by the phase and the drain time below.
  let i = 0;
  const started = Date.now();
  const inFlight = new Set();
  while (hammering) {
    const due = started + (i * 1000) / ATTACKER_RPS;
    if (due > Date.now()) await sleep(due - Date.now());
    if (inFlight.size >= 64) { await Promise.race(inFlight); continue; }
    const request = post(BASES[i % BASES.length], '/v1/chat/completions', ACME, { model: 'mock', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .then(answer => countInto(hammer, `${answer.status}${answer.json?.error ? ' ' + answer.json.error.code : ''}`));
    inFlight.add(request);
    request.finally(() => inFlight.delete(request));
    i++;
  }
  await Promise.all(inFlight);
})();
await sleep(3000); // the rate limit is exhausted once the hammer passes the burst
const withAttacker = await phase();
const heapDuring = await heaps();
hammering = false;
await hammerLoop;
controller.abort();
await Promise.all(open);
await sleep(3000);
const after = await phase();
const heapAfter = await heaps();

console.log(JSON.stringify({
  attack: 'tenant-isolation', nodes: BASES.length, phase_seconds: PHASE_SECONDS,
  attacker: { slow_streams_answers: streams, requests_answers: hammer, requests_per_second: ATTACKER_RPS },
  victim_without: without, victim_with_attacker: withAttacker, victim_after: after,
  heap_mb: { before: heapBefore, during: heapDuring, after: heapAfter },
}));
process.exit(0);
