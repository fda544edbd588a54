// Prints the summary table of docs/ATTACKS.md from run.sh's JSON lines:
//   node bench/attacks/table.mjs bench/results/<date>-attacks.jsonl
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line));
const mb = x => (x === null || x === undefined ? '—' : String(x));
const statuses = s => Object.entries(s ?? {}).map(([k, v]) => `${v}× ${k === '0' ? 'no answer' : k}`).join(', ');

console.log('| Attack | Answers to the attacker | Live heap MB before / during (max) / after | Descriptors before / max / after | Process alive, /health after | Other tenant: answers, p50 / p99 / max ms | Load avg (1 min) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of lines) {
  if (r.attack === 'tenant-isolation') continue;
  const answers = r.answers && typeof Object.values(r.answers)[0] === 'number' ? statuses(r.answers)
    : r.answers ? `${Object.keys(r.answers).length} cases, ${r.cases_with_5xx ?? r.answers_5xx} with a 5xx`
    : r.sessions ? `sessions ${statuses(r.sessions)}; posts ${statuses(r.posts)}`
    : r.closed_by_node !== undefined ? `${r.closed_by_node} closed by the node, median after ${r.lifetime_p50_s} s, ${r.bytes_answered} answered`
    : r.upgraded !== undefined ? `${r.upgraded} upgraded, ${r.ping_mb_accepted_by_tcp} MB of pings taken`
    : '';
  const v = r.victim;
  console.log(`| ${r.attack} | ${answers} | ${mb(r.heap_mb.before)} / ${mb(r.heap_mb.during_max)} / ${mb(r.heap_mb.after)} | ${r.fds.before} / ${r.fds.during_max < 0 ? "—" : r.fds.during_max} / ${mb(r.fds.after)} | ${r.node_alive ? 'yes' : '**no**'}, ${r.health_after || '**no answer**'} | ${statuses(v.statuses)}; ${v.p50_ms} / ${v.p99_ms} / ${v.max_ms} | ${r.load_average_1m?.before ?? '—'} → ${r.load_average_1m?.after ?? '—'} |`);
}
const iso = lines.find(r => r.attack === 'tenant-isolation');
if (iso) {
  console.log('\n| Phase | Victim (globex) requests | Answers | p50 ms | p99 ms | max ms | /health p99 ms | CPU s, node 1 + node 2 | CPU s, attacker process | Load avg (1 min) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const p of iso.phases) {
    console.log(`| ${p.phase} | ${p.n} | ${statuses(p.statuses)}, ${p.distinct_answers} distinct text | ${p.p50_ms} | ${p.p99_ms} | ${p.max_ms} | ${p.health_p99_ms} | ${p.cpu_seconds.nodes.join(' + ')} | ${p.cpu_seconds.attacker} | ${p.load_average_1m ?? '—'} |`);
  }
  console.log(`\nAttacker (acme): slow streams ${statuses(iso.attacker.slow_streams_answers)}; requests at ${iso.attacker.requests_per_second}/s ${statuses(iso.attacker.requests_answers)}. Live heap MB (node 1, node 2): before ${iso.heap_mb.before}, during ${iso.heap_mb.during}, after ${iso.heap_mb.after}.`);
}
