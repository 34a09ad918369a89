// What the browser tests of the portal share: TAP output, a real `pretnum serve` on its
// own database (made from the template pretnum_tmpl) and data directory, the CLI to fill
// it, Debian's chromium driven by playwright-core (headless, kept off the network),
// axe-core for WCAG 2.1 A/AA and screenshots at 1280 and 360 px.
//
// Environment (scripts/check.sh): PRETNUM_BIN, PRETNUM_TEST_PG, PRETNUM_CORPUS;
// PRETNUM_ARTEFACTS (default build/artefacts) receives portal/*.png.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
const BIN = process.env.PRETNUM_BIN || path.join(root, 'build/san/pretnum');
const PG = process.env.PRETNUM_TEST_PG;
export const CORPUS = process.env.PRETNUM_CORPUS || path.join(root, '../shared/corpus');
export const ART = path.join(process.env.PRETNUM_ARTEFACTS || path.join(root, 'build/artefacts'), 'portal');
const AXE = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

let n = 0;
let failures = 0;
export function ok(cond, desc, diag) {
  n++;
  if (cond) {
    console.log(`ok ${n} - ${desc}`);
  } else {
    failures++;
    console.log(`not ok ${n} - ${desc}`);
    if (diag) console.log(String(diag).split('\n').map((l) => `#   ${l}`).join('\n'));
  }
}
export const is = (got, want, desc) => ok(got === want, desc, `got:  ${JSON.stringify(got)}\nwant: ${JSON.stringify(want)}`);

// Prints the plan and exits with the verdict.
export function finish() {
  console.log(`1..${n}`);
  process.exit(failures ? 1 : 0);
}

// Skips the whole file outside make check.
export function needDatabase() {
  if (!PG) {
    console.log('1..0 # SKIP PRETNUM_TEST_PG is not set: run through make check');
    process.exit(0);
  }
}

// A fresh database, data directory and CLI for one test file; serve() starts the server
// and the browser on it. Everything goes away with cleanup().
export function portal(name) {
  const db = `${name}_${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `pretnum-${name}-`));
  const env = { ...process.env, PRETNUM_DATABASE_URL: `${PG} dbname=${db}`, PRETNUM_DATA_DIR: path.join(tmp, 'data') };
  const psql = (dbname, sql) => execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', `${PG} dbname=${dbname}`, '-c', sql],
    { encoding: 'utf8' }).trim();
  const cli = (args, input) => execFileSync(BIN, args, { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  const p = { db, tmp, env, psql, cli, server: null, browser: null, page: null, base: null, problems: [], serverLog: [] };
  fs.mkdirSync(ART, { recursive: true });
  psql('postgres', `CREATE DATABASE ${db} TEMPLATE pretnum_tmpl`);

  // options: more of playwright's context options (e.g. timezoneId).
  p.serve = async (options = {}) => {
    p.server = spawn(BIN, ['serve'], {
      env: { ...env, PRETNUM_PORT: '0', PRETNUM_WEB_DIR: path.join(root, 'web'), PRETNUM_DEMO: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const port = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${buf}`)), 30000);
      p.server.stderr.setEncoding('utf8');
      // Read the log to the end, or the server blocks on a full pipe.
      p.server.stderr.on('data', (chunk) => {
        buf += chunk;
        p.serverLog.push(chunk);
        const m = buf.match(/serving on http:\/\/[0-9.]+:(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      p.server.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${buf}`)));
    });
    p.base = `http://127.0.0.1:${port}`;
    p.browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      locale: 'fr-FR',
      ...options,
    });
    p.page = p.browser.pages()[0] || await p.browser.newPage();
    p.page.on('pageerror', (e) => p.problems.push(`page error: ${e.stack || e.message}`));
    // The reader's pages are cleaned of what the policy would stop (bookpage.js), so any
    // report, from the portal or from a book's frame, is a problem; but for one: parsing a
    // book's page to clean it, chromium reports the event attributes it is about to lose.
    p.page.on('console', (m) => {
      const where = m.location().url || '';
      if (/inline event handler/.test(m.text()) && where.endsWith('/assets/bookpage.js')) return;
      if (/Content Security Policy|Refused to/.test(m.text())) p.problems.push(`CSP: ${m.text()} (${where})`);
    });
    return p.page;
  };

  p.cleanup = async () => {
    if (p.browser) await p.browser.close().catch(() => {});
    if (p.server && p.server.exitCode === null) {
      p.server.kill('SIGTERM');
      await new Promise((r) => p.server.once('exit', r));
    }
    try { psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch { /* already gone */ }
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  // Runs the journey; a throw is one failed test with the page's problems and the
  // server's last words.
  p.run = async (journey) => {
    try {
      await journey();
    } catch (e) {
      ok(false, `the journey ran to its end: ${e.message.split('\n')[0]}`,
        `${e.stack}\n${p.problems.join('\n')}\n--- server log (tail) ---\n${p.serverLog.join('').split('\n').slice(-30).join('\n')}`);
    } finally {
      await p.cleanup();
    }
    finish();
  };
  return p;
}

// axe-core runs through the DevTools protocol rather than a <script> tag, which the
// portal's Content-Security-Policy would (rightly) refuse. Book pages in the reader's
// frames are the publisher's: axe checks the portal around them.
export async function axe(page, name) {
  await page.evaluate(`${AXE}\n;0`);
  const res = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    iframes: false,
    resultTypes: ['violations'],
  }));
  const v = res.violations;
  ok(v.length === 0, `axe: no WCAG 2.1 A/AA violation on ${name}`,
    v.map((x) => `${x.id}: ${x.help}\n  ${x.nodes.slice(0, 3).map((nd) => nd.target.join(' ')).join('\n  ')}`).join('\n'));
}

export async function shot(page, name) {
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 900 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(ART, `${name}-${width}.png`), fullPage: true });
    if (width === 360) {
      // Nothing wider than the screen: no sideways scrolling on a phone (WCAG 1.4.10).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(overflow <= 0, `${name} fits a 360-px screen`, `overflows by ${overflow}px`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

// WCAG 1.4.4 and 1.4.10: with the text at twice its size (the reader's own setting, not a
// page zoom), and at 200% page zoom on a 1280-px window (640 CSS pixels), nothing needs
// sideways scrolling and the page's heading and main controls stay on screen.
export async function zoom200(page, name) {
  const check = () => page.evaluate(() => {
    const over = document.documentElement.scrollWidth - window.innerWidth;
    const hidden = [...document.querySelectorAll('main h1, main button, main a, main input, main select')]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => { const r = el.getBoundingClientRect(); return r.right > window.innerWidth + 1 || r.left < -1; })
      .map((el) => el.textContent.trim().slice(0, 30) || el.outerHTML.slice(0, 60));
    return { over, hidden };
  });
  await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
  await page.waitForTimeout(150);
  const text = await check();
  await page.evaluate(() => { document.documentElement.style.fontSize = ''; });
  await page.setViewportSize({ width: 640, height: 450 });
  await page.waitForTimeout(150);
  const zoomed = await check();
  await page.setViewportSize({ width: 1280, height: 900 });
  ok(text.over <= 0 && !text.hidden.length, `${name} works with text at 200%`, JSON.stringify(text));
  ok(zoomed.over <= 0 && !zoomed.hidden.length, `${name} works at 200% zoom`, JSON.stringify(zoomed));
}

// The portal marks <main aria-busy="true"> from the moment it starts drawing a page.
export async function ready(page) {
  await page.waitForSelector('main[aria-busy=false] h1');
}
