// Cross-node delivery latency of a tokenbus cluster (README, "Cluster"). Needs Node 18+ and three
// clustered nodes on 127.0.0.1:8081-8083 (deploy/local-cluster.sh). Usage: node bench/cross-node-latency.mjs TOKENS RATE
// Cross-node delivery: the same generation read from its owner node and from another node.
// For each seq, (arrival on the other node) - (arrival on the owner) is the added cross-node delay.
import http from 'node:http';
const ports = [8081, 8082, 8083];
const [TOKENS, RATE] = process.argv.slice(2).map(Number);
const json = (port, path, body) => new Promise((ok, ko) => {
  const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/json' } },
    res => { let b = ''; res.on('data', d => b += d); res.on('end', () => ok(JSON.parse(b))); });
  req.on('error', ko); req.end(body ? JSON.stringify(body) : undefined);
});
const gen = await json(8081, '/v1/generations', { model: 'mock', max_tokens: TOKENS, mock_tokens_per_second: RATE, messages: [{ role: 'user', content: 'x' }] });
const nodes = await Promise.all(ports.map(p => json(p, '/health')));
const ownerPort = ports[nodes.findIndex(n => n.node === gen.owner)];
const otherPort = ports.find(p => p !== ownerPort);
const watch = port => new Promise(resolve => {
  const arrivals = new Map();
  http.get({ host: '127.0.0.1', port, path: `/v1/generations/${gen.id}/events` }, res => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', d => {
      const now = process.hrtime.bigint();
      buf += d; let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        const m = /^id: (\d+)/m.exec(block);
        if (m) arrivals.set(Number(m[1]), now);
      }
    });
    res.on('end', () => resolve(arrivals));
  });
});
const [local, remote] = await Promise.all([watch(ownerPort), watch(otherPort)]);
const skip = 20; // the first events may be replayed from the log rather than live
const diffs = [];
for (const [seq, t] of remote) if (seq > skip && local.has(seq)) diffs.push(Number(t - local.get(seq)) / 1e6);
diffs.sort((a, b) => a - b);
const q = p => diffs[Math.min(diffs.length - 1, Math.floor(p * diffs.length))].toFixed(2);
console.log(JSON.stringify({ owner: ownerPort, other: otherPort, samples: diffs.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: diffs[diffs.length - 1].toFixed(2) }));
