// Tenant isolation on a two-node cluster (bench/attacks/run.sh starts it): the victim (globex)
// sends small chat completions to both nodes while the attacker (acme), in a process of its own as
// a real attacker would be, exhausts its limits one way, then the other, then both. Phases, back to
// back: quiet, the attacker past its rate limit, quiet, the attacker holding its concurrency limit
// with slow streams, both at once, quiet again. Each phase records the victim's latencies and
// answers, and the CPU seconds each node and the attacker's process spent. Prints one JSON line.
//   node bench/attacks/isolation.mjs --ports 8181,8182 --pids 123,456
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ACME, alive, countInto, liveHeapMB, pool, post, round, sleep, victim } from './lib.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const BASES = args.ports.split(',').map(port => `http://127.0.0.1:${port}`);
const PHASE_SECONDS = Number(process.env.PHASE_SECONDS ?? 30);
const STREAMS = Number(process.env.STREAMS_N ?? 220);
const ATTACKER_RPS = Number(process.env.ATTACKER_RPS ?? 200);

// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch { return NaN; }
}

if (args.role === 'attacker') await attacker();
else await orchestrate();

// The attacker's process: obeys "hammer", "streams", "stop" from its parent, answers "ready".
async function attacker() {
  const controller = new AbortController();
  const streams = {}, hammer = {};
  const open = [];
  let hammering = false, hammerLoop = Promise.resolve();
  const body = JSON.stringify({ model: 'mock', stream: true, max_tokens: 1000, mock_tokens_per_second: 0.01, messages: [{ role: 'user', content: 'x' }] });
  const openStreams = () => pool(STREAMS, 20, async i => {
    try {
      const response = await fetch(`${BASES[i % BASES.length]}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${ACME}`, 'Content-Type': 'application/json' }, body, signal: controller.signal });
      countInto(streams, response.status);
      if (response.status === 200) open.push(response.body.pipeTo(new WritableStream()).catch(() => {}));
      else await response.text();
    } catch (error) { countInto(streams, `error ${error.cause?.code ?? error.name}`); }
  }, Date.now() + 60_000);
  const startHammer = () => {
    hammering = true;
    hammerLoop = (async () => {
      // ATTACKER_RPS requests a second, over both nodes, at most 64 in flight, until "stop".
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
  };
  setTimeout(() => process.exit(2), 30 * 60_000).unref(); // bounded even if the parent dies
  process.on('message', async command => {
    if (command === 'hammer') { startHammer(); await sleep(3000); } // past the burst
    else if (command === 'hammer-off') { hammering = false; await hammerLoop; }
    else if (command === 'streams') await openStreams();
    else if (command === 'stop') {
      hammering = false;
      await hammerLoop;
      controller.abort();
      await Promise.all(open);
      process.send({ streams, hammer, requests_per_second: ATTACKER_RPS });
      process.exit(0);
    }
    process.send('ready');
  });
  process.send('ready');
}

async function orchestrate() {
  const pids = args.pids.split(',').map(Number);
  const heaps = async () => Promise.all(pids.map(pid => (alive(pid) ? liveHeapMB(pid) : null)));
  const child = fork(new URL(import.meta.url).pathname, ['--ports', args.ports, '--role', 'attacker']);
  const replies = [];
  let waiting = null;
  child.on('message', message => (waiting ? (waiting(message), (waiting = null)) : replies.push(message)));
  const reply = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise(resolve => (waiting = resolve)));
  const tell = async command => { child.send(command); return reply(); };
  await reply(); // the attacker's process is up

  async function phase(name) {
    const cpuBefore = [...pids, child.pid].map(cpuSeconds);
    const probe = victim(BASES, { gapMs: 20 });
    await sleep(PHASE_SECONDS * 1000);
    const result = await probe.stop();
    const cpu = [...pids, child.pid].map((pid, i) => round(cpuSeconds(pid) - cpuBefore[i]));
    return { phase: name, ...result, cpu_seconds: { nodes: cpu.slice(0, pids.length), attacker: cpu[pids.length] }, load_average_1m: round(loadavg()[0]) };
  }

  // Warm-up (not counted): the victim's path compiles on both nodes.
  const warm = victim(BASES, { gapMs: 0 });
  await sleep(15_000);
  await warm.stop();

  const heapBefore = await heaps();
  const phases = [];
  phases.push(await phase('quiet'));
  await tell('hammer');
  phases.push(await phase('attacker past its rate limit'));
  await tell('hammer-off');
  phases.push(await phase('quiet'));
  await tell('streams');
  phases.push(await phase('attacker holding its concurrency limit'));
  await tell('hammer');
  phases.push(await phase('both at once'));
  const heapDuring = await heaps();
  const attackerResult = await tell('stop');
  await sleep(3000);
  phases.push(await phase('quiet'));
  const heapAfter = await heaps();

  console.log(JSON.stringify({
    attack: 'tenant-isolation', nodes: BASES.length, phase_seconds: PHASE_SECONDS,
    attacker: { slow_streams_answers: attackerResult.streams, requests_answers: attackerResult.hammer, requests_per_second: attackerResult.requests_per_second },
    phases, heap_mb: { before: heapBefore, during: heapDuring, after: heapAfter },
  }));
  process.exit(0);
}
