// The attacks of issue 14, one per run against a fresh node (bench/attacks/run.sh starts it):
//   node bench/attacks/attacks.mjs <attack> --pid <node pid> --port <http port> [--upstream-port P]
// Prints one JSON line: what was sent, what came back, the node's live heap (MB, after a full GC)
// before, during (the largest sample) and after, its descriptors, and how the other tenant fared.
// Attacker: tenant acme. Victim: tenant globex. Every loop is bounded in count and in time.
import { createServer } from 'node:http';
import net from 'node:net';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  ACME, GLOBEX, VICTIM_REQUEST, alive, countInto, fds, get, latencyStats, liveHeapMB, pool, post, rssMB, sampler, sleep, victim,
} from './lib.mjs';

const args = Object.fromEntries(process.argv.slice(3).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const ATTACK = process.argv[2];
const PID = Number(args.pid);
const PORT = Number(args.port ?? 8080);
const BASE = `http://127.0.0.1:${PORT}`;
const env = (name, fallback) => Number(process.env[name] ?? fallback);

const attacks = {
  // 1a. Many small requests for huge mock generations nobody watches.
  async 'huge-generations'() {
    const count = env('HUGE_N', 400);
    const statuses = {};
    const ids = [];
    const body = { model: 'mock', messages: [{ role: 'user', content: 'x' }], max_tokens: 100000, mock_tokens_per_second: 1000000 };
    await pool(count, 8, async () => {
      const answer = await post(BASE, '/v1/generations', ACME, body);
      countInto(statuses, answer.status);
      if (answer.json?.id) ids.push(answer.json.id);
    }, Date.now() + 120_000);
    // Wait (bounded) until the last one has ended, then read what is left of the first and the last.
    const deadline = Date.now() + 120_000;
    let last;
    do { last = await get(BASE, `/v1/generations/${ids[ids.length - 1]}`, ACME); await sleep(1000); } while (last.json?.status === 'running' && Date.now() < deadline);
    const first = await get(BASE, `/v1/generations/${ids[0]}`, ACME);
    return {
      sent: `${count} x POST /v1/generations ${JSON.stringify(body)}, 8 at a time`,
      answers: statuses,
      last_generation: { status: last.json?.status, seq: last.json?.seq, text_chars: last.json?.text?.length, finish_reason: last.json?.finish_reason, error: last.json?.error?.code },
      first_generation_now: first.status === 200 ? first.json?.status : `${first.status} ${first.json?.error?.code}`,
    };
  },

  // 1b. Large prompts (~900 KB bodies) for slow generations, so each holds its prompt while it runs.
  async 'large-prompts'() {
    const count = env('PROMPTS_N', 400);
    const content = 'y'.repeat(900 * 1024);
    const statuses = {};
    const body = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content }], max_tokens: 30, mock_tokens_per_second: 1 });
    await pool(count, 16, async () => countInto(statuses, (await post(BASE, '/v1/generations', ACME, body)).status), Date.now() + 120_000);
    await sleep(40_000); // until they have all ended (30 tokens at 1 a second, or cancelled unwatched after 10 s)
    return { sent: `${count} x POST /v1/generations, ${body.length} bytes each (a ${content.length}-character message, max_tokens 30 at 1 token/s), 16 at a time`, answers: statuses };
  },

  // 1c. Full chat sessions: create them, then post 8,000-character messages until each is full.
  async 'full-sessions'() {
    const count = env('SESSIONS_N', 1000);
    const content = '你'.repeat(env('MESSAGE_CHARS', 8000)); // not Latin-1: two bytes a character in a Java string
    const created = {};
    const posts = {};
    let full = 0;
    const deadline = Date.now() + 240_000;
    await pool(count, 16, async () => {
      const session = await post(BASE, '/v1/sessions', ACME, { title: 'attack' }, { timeoutMs: 10_000 });
      countInto(created, `${session.status}${session.json?.error ? ' ' + session.json.error.code : ''}`);
      if (session.status !== 201) return;
      for (let i = 0; i < 200 && Date.now() < deadline; i++) {
        const answer = await post(BASE, `/v1/sessions/${session.json.id}/messages`, ACME, { author: 'mallory', content }, { timeoutMs: 10_000 });
        if (answer.status === 0) return; // the node no longer answers: stop this session
        countInto(posts, `${answer.status}${answer.json?.error ? ' ' + answer.json.error.code : ''}`);
        if (answer.status === 409) { full++; return; }
        if (answer.status === 429) await sleep(100);
      }
    }, deadline);
    const victimSession = await post(BASE, '/v1/sessions', GLOBEX, { title: 'victim' });
    return {
      sent: `${count} x POST /v1/sessions, then POST /v1/sessions/{id}/messages with ${content.length} characters ('你') until 409 session_full (at most 200 posts a session), 16 sessions at a time`,
      sessions: created, posts, sessions_full: full,
      victim_session_create: `${victimSession.status}${victimSession.json?.error ? ' ' + victimSession.json.error.code : ''}`,
    };
  },

  // 2. Thousands of connections dribbling a request head, one byte every few seconds.
  async slowloris() {
    const connections = env('SLOW_CONNECTIONS', 3000);
    const seconds = env('SLOW_SECONDS', 40);
    const head = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ' + 'a'.repeat(1000);
    const stopAt = Date.now() + seconds * 1000;
    const lifetimes = [];
    let opened = 0, answered = 0, refused = 0, open = 0, maxOpen = 0;
    const dribble = () => new Promise(resolve => {
      if (Date.now() >= stopAt) return resolve();
      opened++;
      const socket = net.connect(PORT, '127.0.0.1');
      const started = Date.now();
      let at = 0, timer;
      socket.on('connect', () => {
        open++; maxOpen = Math.max(maxOpen, open);
        const drip = () => { if (at < head.length && !socket.destroyed) { socket.write(head[at++]); timer = setTimeout(drip, 3000); } };
        drip();
      });
      socket.on('data', () => answered++);
      socket.on('error', () => {});
      socket.on('close', hadError => {
        clearTimeout(timer);
        if (socket.connecting || at === 0) refused++; else { open--; lifetimes.push(Date.now() - started); }
        resolve();
      });
      setTimeout(() => socket.destroy(), Math.max(0, stopAt - Date.now())).unref();
    });
    // Keep `connections` dribbling for `seconds`: each one closed by the node is replaced (bounded by the deadline and 5x the count).
    let total = 0;
    await Promise.all(Array.from({ length: connections }, async (_, i) => {
      await sleep(Math.floor(i / 500) * 200); // connect in batches of 500
      while (Date.now() < stopAt && total < connections * 5) { total++; await dribble(); }
    }));
    const sorted = lifetimes.sort((a, b) => a - b);
    return {
      sent: `${connections} connections, each sending a request head one byte every 3 s, replaced when closed, for ${seconds} s (${opened} connections in all)`,
      ulimit_n: Number(process.env.NODE_ULIMIT_N ?? -1), max_open_at_client: maxOpen, closed_by_node: sorted.length,
      closed_without_connecting_or_byte: refused, bytes_answered: answered,
      lifetime_p50_s: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)] / 100) / 10 : null,
    };
  },

  // 3. Many slow streams from one tenant: it runs into its concurrency limit, another tenant does not.
  async 'slow-streams'() {
    const count = env('STREAMS_N', 260);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 180_000).unref(); // whatever happens, no stream outlives 3 minutes
    const statuses = {};
    const body = JSON.stringify({ model: 'mock', stream: true, max_tokens: 1000, mock_tokens_per_second: 0.01, messages: [{ role: 'user', content: 'x' }] });
    const open = [];
    await pool(count, 20, async () => {
      try {
        const response = await fetch(`${BASE}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${ACME}`, 'Content-Type': 'application/json' }, body, signal: controller.signal });
        countInto(statuses, response.status);
        if (response.status === 200) open.push(response.body.pipeTo(new WritableStream()).catch(() => {}));
        else await response.text();
      } catch (error) { countInto(statuses, `error ${error.cause?.code ?? error.name}`); }
    }, Date.now() + 60_000);
    await sleep(5000);
    // With the attacker at its limit: the victim starts 20 generations, the attacker tries 20 more.
    const victimStarts = {}, attackerMore = {};
    for (let i = 0; i < 20; i++) {
      countInto(victimStarts, (await post(BASE, '/v1/generations', GLOBEX, { model: 'mock', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).status);
      countInto(attackerMore, (await post(BASE, '/v1/generations', ACME, { model: 'mock', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).status);
    }
    const health = await get(BASE, '/health');
    await sleep(10_000);
    controller.abort();
    await Promise.all(open);
    return {
      sent: `${count} x POST /v1/chat/completions stream:true, max_tokens 1000, mock_tokens_per_second 0.01 (20 at a time), streams held open`,
      answers: statuses, node_streams: health.json?.streams, victim_generation_starts_while_full: victimStarts, attacker_starts_while_full: attackerMore,
    };
  },

  // 4. An upstream that sends one endless SSE event (many data: lines, no blank line), or one endless line.
  async 'upstream-endless-event'() {
    const upstreamPort = Number(args['upstream-port']);
    const cap = 256 * 1024 * 1024; // bytes the fake upstream sends at most per request
    let upstreamBytes = 0, upstreamRequests = 0;
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', chunk => { raw += chunk; });
      req.on('end', async () => {
        upstreamRequests++;
        const endlessLine = raw.includes('gpt-evil-line');
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        const chunk = endlessLine ? Buffer.from('x'.repeat(16384)) : Buffer.from(('data: ' + 'x'.repeat(1000) + '\n').repeat(16));
        if (endlessLine) res.write('data: ');
        let sent = 0;
        while (sent < cap && !res.destroyed) {
          if (!res.write(chunk)) await new Promise(resolve => { res.once('drain', resolve); res.once('close', resolve); });
          sent += chunk.length;
          upstreamBytes += chunk.length;
        }
        res.end();
      });
    });
    await new Promise(resolve => server.listen(upstreamPort, '127.0.0.1', resolve));
    // A model name per request: each gets a fresh circuit (at most circuit-breaker.max-models are
    // kept), so every request meets the upstream instead of an open circuit's 503.
    const count = env('UPSTREAM_N', 400);
    const seconds = env('UPSTREAM_SECONDS', 20);
    const statuses = {};
    const messages = {};
    await pool(count, 4, async i => {
      const kind = i % 2 ? 'gpt-evil-line' : 'gpt-evil-event';
      const answer = await post(BASE, '/v1/chat/completions', ACME, { model: `${kind}-${i}`, messages: [{ role: 'user', content: 'x' }] }, { timeoutMs: 120_000 });
      countInto(statuses, `${kind} ${answer.status} ${answer.json?.error?.code ?? ''}`.trim());
      messages[kind] ??= answer.json?.error?.message;
    }, Date.now() + seconds * 1000);
    server.closeAllConnections();
    server.close();
    return {
      sent: `POST /v1/chat/completions for ${seconds} s (at most ${count}), 4 at a time, models gpt-evil-event-<i> (data: lines of 1,000 bytes, never a blank line) and gpt-evil-line-<i> (one line that never ends) alternately, from a fake upstream sending up to 256 MiB per request`,
      answers: statuses, upstream_requests: upstreamRequests, upstream_mb_written: Math.round(upstreamBytes / 1048576), error_messages: messages,
    };
  },

  // 5. WebSocket clients flooding ping frames and never reading.
  async 'ping-flood'() {
    const clients = env('PING_CLIENTS', 20);
    const seconds = env('PING_SECONDS', 30);
    const perClientCap = 512 * 1024 * 1024;
    const payload = randomBytes(125);
    const frame = () => {
      const mask = randomBytes(4);
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
      return Buffer.concat([Buffer.from([0x89, 0x80 | 125]), mask, masked]);
    };
    const batch = Buffer.concat(Array.from({ length: 256 }, frame));
    let written = 0, upgraded = 0;
    const closes = {};
    const stopAt = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: clients }, () => new Promise(resolve => {
      const socket = net.connect(PORT, '127.0.0.1');
      let mine = 0, header = '';
      socket.on('error', () => {});
      socket.on('close', () => { countInto(closes, Date.now() < stopAt ? 'by node' : 'by client'); resolve(); });
      socket.on('connect', () => socket.write(`GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${ACME}\r\n\r\n`));
      const onData = async data => {
        header += data.toString('latin1');
        if (!header.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        socket.pause(); // never read again: pongs pile up on the node's side
        if (!header.startsWith('HTTP/1.1 101')) return socket.destroy();
        upgraded++;
        while (Date.now() < stopAt && mine < perClientCap && !socket.destroyed) {
          const flushed = socket.write(batch);
          mine += batch.length; written += batch.length;
          if (!flushed) await Promise.race([new Promise(r => socket.once('drain', r)), sleep(1000)]);
        }
        socket.destroy();
      };
      socket.on('data', onData);
      setTimeout(() => socket.destroy(), seconds * 1000 + 5000).unref();
    })));
    return {
      sent: `${clients} WebSocket clients (tenant acme) sending masked 125-byte pings as fast as TCP takes them for ${seconds} s, never reading`,
      upgraded, ping_mb_accepted_by_tcp: Math.round(written / 1048576), closes,
    };
  },

  // 6. A small burst of malformed requests, each on its own connection: every answer must be < 500.
  async malformed() {
    const auth = `Authorization: Bearer ${ACME}\r\n`;
    const json = (path, body, type = 'application/json') => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const cases = {
      'form body': json('/v1/chat/completions', 'model=mock&messages=x', 'application/x-www-form-urlencoded'),
      'multipart': json('/v1/generations', '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nmock\r\n--b--\r\n', 'multipart/form-data; boundary=b'),
      'text/plain JSON': json('/v1/chat/completions', '{"model":"mock","messages":[]}', 'text/plain'),
      'bad % in path': `GET /v1/generations/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'lone % in path': `GET /% HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
      'bad % in query': `GET /v1/generations/x/events?after=%G1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'bad % in session path': `GET /v1/sessions/%c3%28 HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'NUL in path': `GET /v1/generations/a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'overlong URI (100 KB)': `GET /v1/models?${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'overlong header (100 KB)': `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}X-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
      '5,000 headers': `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}${'X-A: b\r\n'.repeat(5000)}\r\n`,
      'HEAD /health': 'HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'HEAD /v1/models': `HEAD /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'HEAD /v1/generations/x/events': `HEAD /v1/generations/x/events HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'HEAD /v1/chat/completions': `HEAD /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'HEAD /': 'HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'unknown method': `BREW /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'OPTIONS *': 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'absolute URI': `GET http://127.0.0.1:${PORT}/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'HTTP/1.0 without Host': 'GET /health HTTP/1.0\r\n\r\n',
      'bad Content-Length': `POST /v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}`,
      'Content-Length and chunked': `POST /v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      'bad chunk size': `POST /v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`,
      'body over 1 MiB': json('/v1/generations', '{"a":"' + 'b'.repeat(1_100_000) + '"}'),
      'JSON nested 200,000 deep': json('/v1/chat/completions', '['.repeat(200_000) + ']'.repeat(200_000)),
      'messages nested 5,000 deep': json('/v1/chat/completions', `{"model":"mock","messages":[{"role":"user","content":${'['.repeat(5000)}${']'.repeat(5000)}}]}`),
      'invalid UTF-8 in JSON': (() => {
        const body = Buffer.concat([Buffer.from('{"model":"mock","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}]}')]);
        return Buffer.concat([Buffer.from(`POST /v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
      })(),
      'max_tokens 1e309': json('/v1/chat/completions', '{"model":"mock","max_tokens":1e309,"messages":[{"role":"user","content":"x"}]}'),
      'max_tokens -1': json('/v1/chat/completions', '{"model":"mock","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}'),
      'mock_tokens_per_second NaN-ish': json('/v1/chat/completions', '{"model":"mock","mock_tokens_per_second":"fast","messages":[{"role":"user","content":"x"}]}'),
      'messages not an array': json('/v1/chat/completions', '{"model":"mock","messages":"x"}'),
      'model an object': json('/v1/chat/completions', '{"model":{},"messages":[{"role":"user","content":"x"}]}'),
      'WebSocket bad version': `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 99\r\n\r\n`,
      'WebSocket without upgrade': `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`,
      'Last-Event-ID garbage': `GET /v1/generations/x/events HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Last-Event-ID: -99999999999999999999\r\n\r\n`,
      'Authorization garbage': 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \u00ff\u00fe\r\n\r\n',
      'binary garbage': Buffer.concat([randomBytes(2000), Buffer.from('\r\n\r\n')]),
    };
    const results = {};
    const rounds = env('MALFORMED_ROUNDS', 20);
    for (let round = 0; round < rounds; round++) for (const [name, request] of Object.entries(cases)) {
      const status = await new Promise(resolve => {
        const socket = net.connect(PORT, '127.0.0.1');
        let data = '';
        const done = value => { socket.destroy(); resolve(value); };
        socket.on('connect', () => socket.end(request));
        socket.on('data', chunk => { data += chunk.toString('latin1'); const m = data.match(/^HTTP\/1\.[01] (\d{3})/); if (m) done(Number(m[1])); });
        socket.on('error', () => {});
        socket.on('close', () => done(data.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 'closed, no answer'));
        setTimeout(() => done('no answer in 10 s'), 10_000);
      });
      results[name] = [...new Set([...(results[name] ?? []), status])];
    }
    const fiveHundreds = Object.entries(results).filter(([, statuses]) => statuses.some(status => Number(status) >= 500));
    return { sent: `${Object.keys(cases).length} malformed requests, one per connection, ${rounds} rounds`, answers: results, cases_with_5xx: fiveHundreds.length };
  },
};

async function main() {
  const attack = attacks[ATTACK];
  if (!attack) throw new Error(`unknown attack ${ATTACK}: ${Object.keys(attacks).join(', ')}`);
  await sleep(1000);
  const before = { heap_mb: await liveHeapMB(PID), fds: fds(PID), rss_mb: rssMB(PID) };
  const loadBefore = Math.round(loadavg()[0] * 10) / 10;
  const other = victim([BASE]);
  const during = sampler(PID, env('SAMPLE_MS', 5000));
  const started = Date.now();
  let result;
  try { result = await attack(); } catch (error) { result = { failed: String(error.stack) }; }
  const seconds = Math.round((Date.now() - started) / 1000);
  const duringStats = await during.stop();
  const victimStats = await other.stop();
  await sleep(env('SETTLE_MS', 3000));
  const nodeAlive = alive(PID);
  const after = nodeAlive ? { heap_mb: await liveHeapMB(PID), fds: fds(PID), rss_mb: rssMB(PID) } : null;
  const health = nodeAlive ? await get(BASE, '/health') : { status: 0 };
  const afterVictim = nodeAlive ? await post(BASE, '/v1/chat/completions', GLOBEX, VICTIM_REQUEST) : { status: 0 };
  console.log(JSON.stringify({
    attack: ATTACK, seconds, load_average_1m: { before: loadBefore, after: Math.round(loadavg()[0] * 10) / 10 }, ...result, node_alive: nodeAlive,
    heap_mb: { before: before.heap_mb, during_max: duringStats.max_heap_mb, after: after?.heap_mb },
    fds: { before: before.fds, during_max: duringStats.max_fds, after: after?.fds },
    rss_mb: { before: before.rss_mb, after: after?.rss_mb },
    during_samples: duringStats.samples,
    victim: victimStats, health_after: health.status, victim_after: afterVictim.status,
  }));
}

await main();
process.exit(0);
