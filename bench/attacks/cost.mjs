// CPU per small chat completion on running nodes: N sequential requests alternating over the
// given ports, and the CPU seconds (user + system) the nodes' processes used meanwhile, from
// /proc/<pid>/stat. Run it a few times: the first runs include the JIT's work.
//   node bench/attacks/cost.mjs --ports 8181,8182 --pids 123,456 [--n 1500] [--key sk-...]
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const ports = args.ports.split(',');
const pids = args.pids.split(',');
const n = Number(args.n ?? 1500);
const key = args.key ?? process.env.VICTIM_KEY ?? 'sk-globex-1234567890abcdef';
const body = JSON.stringify({ model: 'mock', max_tokens: 5, mock_tokens_per_second: 1000, stream: false, messages: [{ role: 'user', content: 'Hi' }] });
const cpu = pid => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const before = pids.map(cpu);
const started = performance.now();
const statuses = {};
for (let i = 0; i < n; i++) {
  const response = await fetch(`http://127.0.0.1:${ports[i % ports.length]}/v1/chat/completions`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body,
  });
  await response.text();
  statuses[response.status] = (statuses[response.status] ?? 0) + 1;
}
const elapsedMs = performance.now() - started;
const used = pids.map((pid, i) => cpu(pid) - before[i]);
console.log(JSON.stringify({
  requests: n, statuses, ms_per_request: +(elapsedMs / n).toFixed(2),
  cpu_ms_per_request: +((used.reduce((a, b) => a + b, 0) * 1000) / n).toFixed(2),
  cpu_seconds_per_node: used.map(x => +x.toFixed(2)),
}));
