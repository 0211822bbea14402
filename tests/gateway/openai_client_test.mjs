// The official OpenAI Node client, unchanged, against `polycloud gateway`:
// models list, chat non-streaming and streaming, legacy completions,
// embeddings, failover seen through .withResponse(), a stream that breaks
// mid-way, and the errors it raises (401, 404, the contract's 503, a key's
// rate limit and budget as 429s).
//
// The upstreams are OpenAI-shaped node:http servers started here on loopback
// (they stand in for the providers, which cannot be reached from here).
//   node openai_client_test.mjs PATH/TO/polycloud
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';

const polycloud = process.argv[2];
if (!polycloud) {
  console.error('usage: node openai_client_test.mjs PATH/TO/polycloud');
  process.exit(2);
}

// An upstream whose behaviour the test sets: 'ok', 'fail' (500).
function startUpstream(name) {
  const up = { name, mode: 'ok', hits: 0, lastModel: '' };
  up.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      up.hits++;
      const request = JSON.parse(body);
      up.lastModel = request.model;
      if (up.mode === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: `${name} is down` } }));
      }
      if (req.url === '/v1/embeddings') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({
          object: 'list', model: request.model,
          // As the vendor does: base64 of little-endian float32s when asked
          // (the client asks by default and decodes), else numbers.
          data: [{ object: 'embedding', index: 0, embedding: request.encoding_format === 'base64'
            ? Buffer.from(new Float32Array([0.5, -0.25, 0.125]).buffer).toString('base64')
            : [0.5, -0.25, 0.125] }],
          usage: { prompt_tokens: 4, total_tokens: 4 },
        }));
      }
      if (req.url === '/v1/completions') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({
          id: `cmpl-${name}`, object: 'text_completion', created: 1, model: request.model,
          choices: [{ index: 0, text: ` upon a time at ${name}`, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 },
        }));
      }
      if (request.stream && up.mode === 'break') {
        // One chunk, then the connection drops without the stream's end.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({
          id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: request.model,
          choices: [{ index: 0, delta: { content: 'hel' }, finish_reason: null }],
        })}\n\n`);
        return setTimeout(() => res.socket.destroy(), 50);
      }
      if (request.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const words = ['hello', ' from', ` ${name}`];
        words.forEach((w, i) =>
          res.write(`data: ${JSON.stringify({
            id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: request.model,
            choices: [{ index: 0, delta: { content: w }, finish_reason: null }],
          })}\n\n`));
        res.write(`data: ${JSON.stringify({
          id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: request.model,
          choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
        })}\n\n`);
        res.write('data: [DONE]\n\n');
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: `chatcmpl-${name}`, object: 'chat.completion', created: 1, model: request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: `hello from ${name}` },
                    finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      }));
    });
  });
  return new Promise((resolve) => up.server.listen(0, '127.0.0.1', () => {
    up.url = `http://127.0.0.1:${up.server.address().port}/v1`;
    resolve(up);
  }));
}

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

function startGateway(dir, az1, az2, aw) {
  writeFileSync(path.join(dir, 'fleet.yaml'), `name: node-client-test
start: 2026-01-01
end: 2099-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - {id: azure-deal, provider: azure, start: 2025-01-01, end: 2099-01-01,
     exclusivity: [{class: api, until: 2099-01-01}]}
sites: [{id: az, provider: azure}, {id: aw, provider: aws}]
pools:
  - {id: p, site: az, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}
`);
  writeFileSync(path.join(dir, 'endpoints.yaml'), `endpoints:
  - {id: az1, provider: azure, model: gpt-test, upstream_model: gpt-test-az, base_url: "${az1.url}", format: openai, price: {input_per_million: 1}}
  - {id: az2, provider: azure, model: gpt-test, base_url: "${az2.url}", format: openai, price: {input_per_million: 2}}
  - {id: aw, provider: aws, model: gpt-test, base_url: "${aw.url}", format: openai, price: {input_per_million: 0.5}}
  - {id: aw-only, provider: aws, model: gpt-aws, base_url: "${aw.url}", format: openai}
keys:
  - {id: api, secret_sha256: ${sha256('sk-api')}, workload_class: api}
  - {id: limited, secret_sha256: ${sha256('sk-limited')}, workload_class: chat, limits: {requests_per_minute: 1}}
  - {id: broke, secret_sha256: ${sha256('sk-broke')}, workload_class: chat, limits: {budget: 0.000001}}
  - {id: chat, secret_sha256: ${sha256('sk-chat')}, workload_class: chat}
`);
  const child = spawn(polycloud, ['gateway', '--scenario', path.join(dir, 'fleet.yaml'),
    '--endpoints', path.join(dir, 'endpoints.yaml'), '--listen', '127.0.0.1:0',
    '--store', path.join(dir, 'usage.db')],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/listening on (http:\/\/[0-9.:]+\/v1)/);
      if (m) resolve({ child, baseURL: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`polycloud gateway exited with ${code}: ${out}`)));
  });
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

let az1, az2, aw, gateway;
const client = (apiKey) => new OpenAI({ baseURL: gateway.baseURL, apiKey, maxRetries: 0,
                                        timeout: 10000 });
const hello = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] };

test('lists the models', async () => {
  const ids = [];
  for await (const m of client('sk-chat').models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['gpt-test', 'gpt-aws']);
});

test('non-streaming chat goes to the cheapest deployment of a free class', async () => {
  const { data, response } = await client('sk-chat').chat.completions.create(hello).withResponse();
  assert.equal(data.choices[0].message.content, 'hello from aw');
  assert.equal(data.usage.total_tokens, 8);
  assert.equal(response.headers.get('x-polycloud-deployment'), 'aw');
});

test('an exclusive class stays at the holder, with the upstream model name', async () => {
  const { data, response } = await client('sk-api').chat.completions.create(hello).withResponse();
  assert.equal(data.choices[0].message.content, 'hello from az1');
  assert.equal(az1.lastModel, 'gpt-test-az');
  assert.match(response.headers.get('x-polycloud-rule'), /api is exclusive to azure/);
});

test('streaming chat arrives as chunks, usage last', async () => {
  const stream = await client('sk-api').chat.completions.create(
    { ...hello, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'hello from az1');
  assert.equal(usage.total_tokens, 8);
});

test('fails over to the other allowed deployment, never to the forbidden one', async () => {
  az1.mode = 'fail';
  const awHits = aw.hits;
  try {
    const { data, response } = await client('sk-api').chat.completions.create(hello).withResponse();
    assert.equal(data.choices[0].message.content, 'hello from az2');
    assert.equal(response.headers.get('x-polycloud-failed-over'), 'az1: HTTP 500');
    const stream = await client('sk-api').chat.completions.create({ ...hello, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'hello from az2');
    assert.equal(aw.hits, awHits);
  } finally {
    az1.mode = 'ok';
  }
});

test('a contract refusal is a 503 the client raises with its code and clause', async () => {
  await assert.rejects(
    client('sk-api').chat.completions.create({ ...hello, model: 'gpt-aws' }),
    (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, e.constructor.name);
      assert.equal(e.status, 503);
      assert.equal(e.code, 'contract_forbids');
      assert.equal(e.type, 'server_error');
      assert.match(e.message, /api is exclusive to azure until 2099-01-01 \(contract azure-deal\)/);
      return true;
    });
});

test('legacy completions and embeddings go through the same rules', async () => {
  const { data: c, response } = await client('sk-api').completions.create(
    { model: 'gpt-test', prompt: 'Once' }).withResponse();
  assert.equal(c.choices[0].text, ' upon a time at az1');
  assert.equal(response.headers.get('x-polycloud-deployment'), 'az1');
  const e = await client('sk-chat').embeddings.create({ model: 'gpt-test', input: 'hi' });
  assert.deepEqual(e.data[0].embedding, [0.5, -0.25, 0.125]);
  assert.equal(e.usage.prompt_tokens, 4);
});

test('a stream that breaks mid-way ends with an error the client raises', async () => {
  az1.mode = 'break';
  try {
    const stream = await client('sk-api').chat.completions.create({ ...hello, stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, (e) => {
      assert.match(String(e.message), /stream broke off/);
      return true;
    });
    assert.equal(text, 'hel');
  } finally {
    az1.mode = 'ok';
  }
});

test("a key's rate limit and budget are 429s the client raises", async () => {
  await client('sk-limited').chat.completions.create(hello);
  await assert.rejects(client('sk-limited').chat.completions.create(hello), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.headers['retry-after'] ?? e.headers.get?.('retry-after'), '60');
    return true;
  });
  await client('sk-broke').chat.completions.create(hello);  // spends past $0.000001
  await assert.rejects(client('sk-broke').chat.completions.create(hello), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.code, 'insufficient_quota');
    return true;
  });
});

test('every answer has a request id that explains it', async () => {
  const { response } = await client('sk-api').chat.completions.create(hello).withResponse();
  const id = response.headers.get('x-request-id');
  assert.match(id, /^req_[0-9a-f]{24}$/);
  const r = await fetch(`${gateway.baseURL}/requests/${id}`,
    { headers: { authorization: 'Bearer sk-api' } });
  assert.equal(r.status, 200);
  const x = await r.json();
  assert.equal(x.deployment, 'az1');
  assert.deepEqual(x.candidates.map((c) => [c.deployment, c.admissible]),
    [['az1', true], ['az2', true], ['aw', false]]);
});

test('a wrong key and an unknown model raise the usual errors', async () => {
  await assert.rejects(client('sk-wrong').chat.completions.create(hello),
    (e) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
  await assert.rejects(client('sk-chat').chat.completions.create({ ...hello, model: 'nope' }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
});

const dir = mkdtempSync(path.join(tmpdir(), 'polycloud-gateway-node-'));
let failed = 0;
try {
  [az1, az2, aw] = await Promise.all([startUpstream('az1'), startUpstream('az2'),
                                      startUpstream('aw')]);
  gateway = await startGateway(dir, az1, az2, aw);
  for (const { name, fn } of tests) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${e.stack ?? e}`);
    }
  }
} finally {
  gateway?.child.removeAllListeners('exit');
  gateway?.child.kill('SIGTERM');
  for (const up of [az1, az2, aw]) up?.server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(failed ? `${failed} of ${tests.length} failed` : `all ${tests.length} passed`);
process.exit(failed ? 1 : 0);
