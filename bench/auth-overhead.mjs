// What authentication costs per request (README, "Security"): sequential GET /v1/models over one
// keep-alive connection with an API key, an HS256 JWT, and an unknown key, p50 and p99 after a
// warm-up. Needs Node 18+. Start the hub with a key and a JWT secret, then run this:
//   TOKENBUS_API_KEYS=acme:sk-acme-1234567890abcdef \
//   TOKENBUS_JWT_SECRET=change-me-to-32-or-more-random-characters java -jar target/tokenbus.jar &
//   TOKENBUS_JWT_SECRET=change-me-to-32-or-more-random-characters node bench/auth-overhead.mjs 5000
import { createHmac } from 'node:crypto';

const N = Number(process.argv[2] ?? 5000);
const BASE = process.env.TOKENBUS_URL ?? 'http://127.0.0.1:8080';
const KEY = process.env.KEY ?? 'sk-acme-1234567890abcdef';
const b64 = o => Buffer.from(JSON.stringify(o)).toString('base64url');
const head = b64({ alg: 'HS256', typ: 'JWT' });
const body = b64({ tenant: 'acme', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 });
const signature = createHmac('sha256', process.env.TOKENBUS_JWT_SECRET).update(`${head}.${body}`).digest('base64url');
const JWT = `${head}.${body}.${signature}`;

async function run(name, credential, expected) {
  const headers = { Authorization: `Bearer ${credential}` };
  const once = async () => {
    const started = process.hrtime.bigint();
    const response = await fetch(`${BASE}/v1/models`, { headers });
    await response.arrayBuffer();
    if (response.status !== expected) throw new Error(`${name}: HTTP ${response.status}`);
    return Number(process.hrtime.bigint() - started) / 1000;
  };
  for (let i = 0; i < 1000; i++) await once();
  const times = [];
  for (let i = 0; i < N; i++) times.push(await once());
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(8)} p50 ${times[N / 2 | 0].toFixed(0)} µs  p99 ${times[N * 0.99 | 0].toFixed(0)} µs`);
}

for (let round = 1; round <= 2; round++) {
  console.log(`round ${round}`);
  await run('api key', KEY, 200);
  await run('jwt', JWT, 200);
  await run('bad key', 'sk-unknown-1234567890abcdef', 401);
}
