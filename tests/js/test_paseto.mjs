// Cross-checks lending/paseto.c against an independent implementation, the paseto npm
// package (panva, Node's own Ed25519), through the paseto_cli test program (built from
// tests/js/paseto_cli.c by `make check`). Run by scripts/check.sh; prints TAP.
//
//   PRETNUM_BUILD=build/san node tests/js/test_paseto.mjs
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', 'paseto'))) {
  console.log('not ok 1 - the paseto npm package is installed (scripts/install-deps.sh)');
  process.exit(1);
}
const require = createRequire(import.meta.url);
const { V4 } = require('paseto');

const cli = process.argv[2] || join(here, '..', '..', process.env.PRETNUM_BUILD || 'build/san', 'tests', 'paseto_cli');
const corpus = process.env.PRETNUM_CORPUS || join(here, '..', '..', '..', 'shared', 'corpus');
let n = 0;
let failed = 0;
const ok = (cond, what) => {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
};

const hex = (b) => Buffer.from(b).toString('hex');
const cSign = (sk, m, f, i) =>
  execFileSync(cli, ['sign', hex(sk), hex(f), hex(i)], { input: m }).toString();
const cVerify = (pk, i, token) => {
  try {
    return { m: execFileSync(cli, ['verify', hex(pk), hex(i), token], { stdio: 'pipe' }) };
  } catch (e) {
    return { code: e.stderr.toString().split(':')[0] };
  }
};
const jsVerify = async (pk, token, i) => {
  try {
    const r = await V4.verify(token, V4.bytesToKeyObject(Buffer.from(pk)), {
      buffer: true,
      complete: true,
      assertion: i,
    });
    return { m: r.payload, footer: r.footer };
  } catch (e) {
    return { error: e.code || e.message };
  }
};

// Deterministic "random" bytes without NUL (footers and assertions are C strings in the CLI).
let counter = 0;
const bytes = (len) => {
  const out = Buffer.alloc(len);
  for (let k = 0; k < len; k += 32) {
    const h = createHash('sha256').update(`pretnum-${counter++}`).digest();
    h.copy(out, k, 0, Math.min(32, len - k));
  }
  for (let k = 0; k < len; k++) if (out[k] === 0) out[k] = 1;
  return out;
};

// 1. the official 4-S vectors verify in the npm package too (the harness itself is sound)
const v4 = JSON.parse(readFileSync(join(corpus, 'paseto', 'v4.json'), 'utf8'));
for (const t of v4.tests.filter((t) => t.name.startsWith('4-S-'))) {
  const r = await jsVerify(Buffer.from(t['public-key'], 'hex'), t.token, t['implicit-assertion']);
  ok(r.m && r.m.toString() === t.payload, `npm paseto verifies vector ${t.name}`);
}

// 2. both ways, byte for byte, over many payload, footer and assertion lengths
const pair = await V4.generateKey('public');
const skBytes = V4.keyObjectToBytes(pair);
const pkBytes = skBytes.subarray(32);
let same = 0;
let trials = 0;
for (let ml = 0; ml <= 96; ml += 1) {
  const m = bytes(ml);
  const f = ml % 4 === 0 ? Buffer.alloc(0) : bytes((ml * 7) % 61);
  const i = ml % 3 === 0 ? Buffer.alloc(0) : bytes((ml * 5) % 37);
  const jsTok = await V4.sign(m, pair, { footer: f.length ? f : undefined, assertion: i });
  const cTok = cSign(skBytes, m, f, i);
  const fromC = cVerify(pkBytes, i, jsTok);
  const fromJs = await jsVerify(pkBytes, cTok, i);
  trials++;
  if (
    jsTok === cTok &&
    fromC.m && fromC.m.equals(m) &&
    fromJs.m && Buffer.from(fromJs.m).equals(m)
  )
    same++;
  else console.log(`# mismatch at payload length ${ml}: js ${jsTok}\n#   c ${cTok} ${fromC.code || ''}`);
}
ok(same === trials, `${same}/${trials} tokens identical both ways and verified by the other side`);

// 3. where the C module is stricter: same bytes, another spelling
const tok = cSign(skBytes, bytes(66), Buffer.from('f'), Buffer.alloc(0)); // 130 bytes: 4 bits over
const dot = tok.indexOf('.', 10);
const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const last = A.indexOf(tok[dot - 1]);
const spellings = {
  'non-zero leftover bits': tok.slice(0, dot - 1) + A[last | 1] + tok.slice(dot),
  'padding': tok.slice(0, dot) + '==' + tok.slice(dot),
  "'+' for '-'": tok.includes('-') ? tok.replace('-', '+') : null,
  "'/' for '_'": tok.includes('_') ? tok.replace('_', '/') : null,
};
for (const [what, t] of Object.entries(spellings)) {
  if (!t) continue;
  const c = cVerify(pkBytes, Buffer.alloc(0), t);
  const js = await jsVerify(pkBytes, t, undefined);
  ok(c.code === 'malformed_token', `C refuses ${what} (malformed_token)`);
  console.log(`# npm paseto ${js.m ? 'ACCEPTS' : 'refuses'} ${what}${js.error ? ` (${js.error})` : ''}`);
}

// 4. a token the npm package signs with a footer is refused by C under a wrong assertion
const t4 = await V4.sign(Buffer.from('{}'), pair, { footer: 'x', assertion: 'a' });
ok(cVerify(pkBytes, Buffer.from('b'), t4).code === 'bad_signature', 'C binds the assertion');

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
