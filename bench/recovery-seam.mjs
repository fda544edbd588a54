// Seam latency of a continue-recovery (README, "Upstreams"): how long a chat client waits at the point where
// the upstream stream broke and tokenbus continued it. Needs Node 18+. It starts a fake OpenAI-compatible
// upstream on 127.0.0.1:9911 that sends three words, waits 50 ms and drops the connection, and answers the
// continuation request with the rest. Start the hub against it, then run this:
//   OPENAI_BASE_URL=http://127.0.0.1:9911/v1 java -jar target/tokenbus.jar &
//   node bench/recovery-seam.mjs 50
import http from 'node:http';

const RUNS = Number(process.argv[2] ?? 20);
const WORDS = 'one two three four five six seven eight'.split(' ').map((w, i) => (i ? ' ' : '') + w);
const FULL = WORDS.join('');

const chunk = (model, delta, finish = null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model,
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', d => body += d);
  req.on('end', () => {
    const r = JSON.parse(body);
    const assistant = r.messages.findLast(m => m.role === 'assistant');
    const partial = assistant ? assistant.content : '';
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (!partial) {
      res.write(WORDS.slice(0, 3).map(w => chunk(r.model, { content: w })).join(''));
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end(chunk(r.model, { content: FULL.slice(partial.length) }) + chunk(r.model, {}, 'stop') + 'data: [DONE]\n\n');
  });
}).listen(9911, '127.0.0.1');

const stream = () => new Promise((resolve, reject) => {
  const req = http.request({ host: '127.0.0.1', port: 8080, path: '/v1/chat/completions', method: 'POST',
    headers: { 'content-type': 'application/json' } }, res => {
    let buf = '', text = '', n = 0, last = 0, gap = -1;
    res.setEncoding('utf8');
    res.on('data', d => {
      buf += d;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (!event.startsWith('data: {')) continue;
        const content = JSON.parse(event.slice(6)).choices?.[0]?.delta?.content;
        if (!content) continue;
        const now = performance.now();
        if (n === 3) gap = now - last;
        text += content; last = now; n++;
      }
    });
    res.on('end', () => text === FULL ? resolve(gap) : reject(new Error('wrong text: ' + JSON.stringify(text))));
  });
  req.on('error', reject);
  req.end(JSON.stringify({ model: 'gpt-bench', stream: true, messages: [{ role: 'user', content: 'count' }] }));
});

const gaps = [];
for (let i = 0; i < RUNS; i++) gaps.push(await stream());
upstream.close();
gaps.sort((a, b) => a - b);
const q = p => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))].toFixed(1);
console.log(`${RUNS} runs, every text exact; gap at the seam (ms): p50 ${q(0.5)}, p90 ${q(0.9)}, max ${gaps.at(-1).toFixed(1)}; `
  + 'the fake waits 50 ms of it before it drops');
