// A real `pretnum serve` with a real loan, for the streaming tests: a database from the
// template pretnum_tmpl, titles made with the ffmpeg command line and imported with
// `pretnum import`, a consortium, library, patron and licences made with the CLI, the
// server on a free port, a patron signed in over HTTP who borrows each title.
// Environment (as scripts/check.sh sets it): PRETNUM_BIN, PRETNUM_TEST_PG.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = process.env.PRETNUM_BIN || 'build/san/pretnum';
const pg = process.env.PRETNUM_TEST_PG;

export const tap = () => {
  let n = 0;
  let failed = 0;
  const ok = (cond, what, diag) => {
    n++;
    if (!cond) failed++;
    console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
    if (!cond && diag !== undefined) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
  };
  const done = () => {
    console.log(`1..${n}`);
    return failed;
  };
  return { ok, done };
};

const psql = (db, sql) => execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-d', `${pg} dbname=${db}`, '-c', sql]).toString().trim();

// films: [{name, args}] made with ffmpeg in the scratch dir.
export async function startFixture(media) {
  if (!pg) throw new Error('PRETNUM_TEST_PG is not set');
  const db = `stream_js_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'pretnum-js-stream-'));
  const data = join(dir, 'data');
  psql('postgres', `CREATE DATABASE ${db} TEMPLATE pretnum_tmpl`);
  const env = { ...process.env, PRETNUM_DATABASE_URL: `${pg} dbname=${db}`, PRETNUM_DATA_DIR: data };
  const run = (args, input) => execFileSync(bin, args, { env, input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] }).toString().trim();
  let server;
  const stop = async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((res) => server.once('exit', res));
    }
    try { psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const titles = {};
    for (const m of media) {
      const file = join(dir, m.name);
      execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...m.args, file]);
      titles[m.name] = run(['import', file]);
    }
    const consortium = run(['consortium', 'add', 'Réseau de test']);
    run(['library', 'add', '--consortium', consortium, '--code', 'JS', 'Médiathèque JS']);
    run(['patron', 'add', '--library', 'JS', '--card', '42', '--name', 'Lectrice'], 'secret pass\n');
    for (const id of Object.values(titles)) run(['licence', 'add', '--title', id, '--consortium', consortium, '--concurrency', '3']);
    server = spawn(bin, ['serve'], { env: { ...env, PRETNUM_PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`no port printed: ${buf}`)), 30000);
      server.stderr.on('data', (d) => {
        buf += d;
        const m = buf.match(/serving on http:\/\/[0-9.]+:(\d+)/);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
      server.once('exit', (c) => reject(new Error(`serve exited with ${c}: ${buf}`)));
    });
    let log = '';
    server.stderr.on('data', (d) => { log += d; });
    const base = `http://127.0.0.1:${port}`;
    const signin = await fetch(`${base}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ library: 'JS', card: '42', password: 'secret pass' }),
    });
    const session = await signin.json();
    const bearer = session.token;
    if (!bearer) throw new Error(`sign-in failed: ${JSON.stringify(session)}`);
    const loans = {};
    for (const [name, id] of Object.entries(titles)) {
      const r = await fetch(`${base}/api/v1/loans`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ title_id: id }),
      });
      const body = await r.json();
      if (r.status !== 201) throw new Error(`borrowing ${name}: ${r.status} ${JSON.stringify(body)}`);
      loans[name] = body.loan;
    }
    return { base, port, bearer, titles, loans, stop, db, dir, log: () => log, psql: (sql) => psql(db, sql) };
  } catch (e) {
    await stop();
    throw e;
  }
}
