// The portal in a real browser: Debian's chromium driven by playwright-core against a
// real `pretnum serve` on its own database. A patron signs in, searches, borrows and
// reads an e-book, finds it in the account and returns it; staff add and suspend a
// licence and watch the counts move. axe-core checks every page for WCAG 2.1 A/AA,
// and screenshots at 1280 and 360 px are kept as artefacts. TAP on stdout.
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
const root = path.resolve(here, '../..');
const BIN = process.env.PRETNUM_BIN || path.join(root, 'build/san/pretnum');
const PG = process.env.PRETNUM_TEST_PG;
const CORPUS = process.env.PRETNUM_CORPUS || path.join(root, '../shared/corpus');
const ART = path.join(process.env.PRETNUM_ARTEFACTS || path.join(root, 'build/artefacts'), 'portal');
const AXE = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

let n = 0;
let failures = 0;
function ok(cond, desc, diag) {
  n++;
  if (cond) {
    console.log(`ok ${n} - ${desc}`);
  } else {
    failures++;
    console.log(`not ok ${n} - ${desc}`);
    if (diag) console.log(String(diag).split('\n').map((l) => `#   ${l}`).join('\n'));
  }
}
const is = (got, want, desc) => ok(got === want, desc, `got:  ${JSON.stringify(got)}\nwant: ${JSON.stringify(want)}`);

if (!PG) {
  console.log('1..0 # SKIP PRETNUM_TEST_PG is not set: run through make check');
  process.exit(0);
}

const db = `portal_js_${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pretnum-portal-js-'));
const env = { ...process.env, PRETNUM_DATABASE_URL: `${PG} dbname=${db}`, PRETNUM_DATA_DIR: path.join(tmp, 'data') };
const psql = (dbname, sql) => execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', `${PG} dbname=${dbname}`, '-c', sql],
  { encoding: 'utf8' }).trim();
const cli = (args, input) => execFileSync(BIN, args, { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();

let server = null;
let browser = null;
const problems = [];
const serverLog = [];

async function startServer() {
  server = spawn(BIN, ['serve'], {
    env: { ...env, PRETNUM_PORT: '0', PRETNUM_WEB_DIR: path.join(root, 'web'), PRETNUM_DEMO: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${buf}`)), 30000);
    server.stderr.setEncoding('utf8');
    // Read the log to the end, or the server blocks on a full pipe.
    server.stderr.on('data', (chunk) => {
      buf += chunk;
      serverLog.push(chunk);
      const m = buf.match(/serving on http:\/\/[0-9.]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${buf}`)));
  });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  try { psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch { /* already gone */ }
  fs.rmSync(tmp, { recursive: true, force: true });
}

// axe-core runs through the DevTools protocol rather than a <script> tag, which the
// portal's Content-Security-Policy would (rightly) refuse. Book pages in the reader's
// frame are the publisher's, in an opaque origin: axe checks the portal around them.
async function axe(page, name) {
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

async function shot(page, name) {
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

// The portal marks <main aria-busy="true"> from the moment it starts drawing a page.
async function ready(page) {
  await page.waitForSelector('main[aria-busy=false] h1');
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  psql('postgres', `CREATE DATABASE ${db} TEMPLATE pretnum_tmpl`);
  const book = cli(['import', path.join(CORPUS, 'epub/valid/idpf-childrens-literature.epub')]);
  const other = cli(['import', path.join(CORPUS, 'epub/valid/idpf-wasteland-otf-obf.epub')]);
  const film = cli(['import', path.join(CORPUS, 'media/valid/h264-aac-publicdomain-sample.mp4'), '--title', 'Film du domaine public']);
  // The corpus film lasts 30 s and is buffered whole at once: a longer one, made here,
  // shows segments still being fetched after the token has been refreshed.
  const longFile = path.join(tmp, 'long.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=25', '-f', 'lavfi',
    '-i', 'sine=frequency=330', '-t', '150', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '32', '-pix_fmt', 'yuv420p',
    '-g', '50', '-c:a', 'aac', '-b:a', '48k', longFile]);
  const longFilm = cli(['import', longFile, '--title', 'Long métrage d’essai']);
  const music = cli(['import', path.join(CORPUS, 'media/valid/mozilla-48k-mono-vorbis.ogg'), '--title', 'Chanson d’essai']);
  const consortium = cli(['consortium', 'add', 'Réseau des tests']);
  cli(['library', 'add', '--consortium', consortium, '--code', 'TEST', 'Médiathèque des tests']);
  cli(['patron', 'add', '--library', 'TEST', '--card', '4242', '--name', 'Alice Lecteur'], 'lire-en-paix\n');
  cli(['patron', 'add', '--library', 'TEST', '--card', '4343', '--name', 'Bruno Second'], 'second-lecteur\n');
  cli(['staff', 'add', '--consortium', consortium, '--email', 'admin@test.example', '--role', 'consortium_admin'], 'gerer-les-licences\n');
  cli(['licence', 'add', '--title', book, '--consortium', consortium, '--concurrency', '1']);
  cli(['licence', 'add', '--title', other, '--consortium', consortium, '--concurrency', '1']);
  cli(['licence', 'add', '--title', film, '--consortium', consortium, '--concurrency', '1']);
  cli(['licence', 'add', '--title', longFilm, '--consortium', consortium, '--concurrency', '1']);
  cli(['licence', 'add', '--title', music, '--consortium', consortium, '--concurrency', '1']);

  const port = await startServer();
  const base = `http://127.0.0.1:${port}`;
  const profile = path.join(tmp, 'chromium');
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    locale: 'fr-FR',
  });
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });

  // ---- anonymous: home, search, title ----
  await page.goto(base);
  await ready(page);
  is(await page.getAttribute('html', 'lang'), 'fr', 'the portal is in French by default');
  is(await page.locator('main h1').innerText(), 'Empruntez, lisez, écoutez', 'home page heading');
  ok(await page.getByRole('heading', { name: 'Nouveautés : Livres numériques' }).isVisible(), 'home lists new e-books');
  ok(await page.getByRole('link', { name: "Children's Literature" }).first().isVisible(), 'an imported book is on the home page');
  const coverAlt = await page.locator('img.cover').first().getAttribute('alt');
  ok(/^Couverture de « .+ »$/.test(coverAlt || ''), 'covers have a text alternative', coverAlt);
  ok(await page.locator('header >> role=navigation').count() === 1 && await page.locator('main').count() === 1
    && await page.locator('footer').count() === 1, 'landmarks: banner navigation, main, footer');
  await page.keyboard.press('Tab');
  is(await page.evaluate(() => document.activeElement.textContent), 'Aller au contenu', 'the first Tab reaches the skip link');
  ok(await page.evaluate(() => document.activeElement.getBoundingClientRect().top >= 0), 'which shows itself when focused');
  await axe(page, 'home');
  await shot(page, 'home');

  await page.getByRole('button', { name: 'English' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Borrow, read, listen', 'the English switch translates the page');
  await axe(page, 'home (English)');
  await page.getByRole('button', { name: 'Français' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'fr');
  await ready(page);

  // ---- sign in: errors first, then a patron ----
  await page.getByRole('link', { name: 'Se connecter' }).first().click();
  await ready(page);
  const patronForm = page.locator('section', { has: page.getByRole('heading', { name: 'Lecteur ou lectrice' }) });
  await patronForm.getByRole('button', { name: 'Se connecter' }).click();
  ok(await page.getByText('Remplissez ce champ : Numéro de carte.').isVisible(), 'an empty field is named in its error');
  is(await page.getByLabel('Numéro de carte').getAttribute('aria-invalid'), 'true', 'the empty field is marked invalid');
  await page.getByLabel('Code de votre bibliothèque').fill('TEST');
  await page.getByLabel('Numéro de carte').fill('4242');
  await patronForm.getByLabel('Mot de passe').fill('wrong password');
  await patronForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('alert').filter({ hasText: 'incorrect' }).waitFor();
  ok(true, 'a wrong password gets a clear error');
  await axe(page, 'sign-in with errors');
  await shot(page, 'signin');
  await patronForm.getByLabel('Mot de passe').fill('lire-en-paix');
  await patronForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}/account`);
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Mon compte', 'signed in, the patron lands on the account');

  // ---- search with facets ----
  await page.getByRole('link', { name: 'Catalogue' }).click();
  await ready(page);
  await page.getByRole('searchbox').fill('children literature');
  await page.getByRole('searchbox').press('Enter');
  await page.waitForURL(/\/search\?q=children/);
  await ready(page);
  const result = page.locator('.cards .card').filter({ hasText: "Children's Literature" });
  ok(await result.count() === 1, 'the search finds the book');
  is(await result.locator('.avail').innerText(), '1 sur 1 disponible', 'results show availability');
  await page.getByLabel('Disponible maintenant').check();
  await page.waitForURL(/available=true/);
  await ready(page);
  ok(await page.locator('.cards .card').filter({ hasText: "Children's Literature" }).count() === 1, 'the "available now" facet keeps it');
  await page.getByLabel('Films').check();
  await page.waitForURL(/kind=video/);
  await ready(page);
  is(await page.locator('#results-count').innerText(), 'Aucun titre trouvé.', 'the kind facet narrows the results');
  await page.getByLabel('Livres numériques').check();
  await page.waitForURL(/kind=ebook/);
  await ready(page);
  await axe(page, 'search results');
  await shot(page, 'search');

  // ---- title page: borrow ----
  await page.getByRole('link', { name: "Children's Literature" }).click();
  await ready(page);
  is(await page.locator('main h1').innerText(), "Children's Literature", 'the title page opens');
  ok(await page.getByRole('heading', { name: 'Accessibilité' }).isVisible(), 'the title page has an accessibility section');
  await page.getByLabel('Durée du prêt').selectOption('7');
  await axe(page, 'title page');
  await shot(page, 'title');
  await page.getByRole('button', { name: 'Emprunter', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Prêt enregistré' }).waitFor();
  ok(true, 'borrowing is announced in a live region');
  is(await page.evaluate(() => document.activeElement.textContent), 'Lire', 'and the focus moves to Read');
  const loans = await page.evaluate(() => fetch('/api/v1/loans').then((r) => r.json()));
  is(loans.items.length, 1, 'the loan exists');
  const dueDays = (new Date(loans.items[0].due) - new Date(loans.items[0].started)) / 86400000;
  is(Math.round(dueDays), 7, 'the chosen loan length is used');

  // ---- reader ----
  await page.getByRole('link', { name: 'Lire', exact: true }).click();
  await page.waitForURL(/\/read\//);
  await ready(page);
  const frame = page.frameLocator('iframe.book-frame');
  await frame.locator('body').waitFor();
  const positionText = await page.locator('.where').innerText();
  ok(/^Partie 1 sur \d+$/.test(positionText), 'the reader shows where we are', positionText);
  const parts = Number(positionText.split(' ').pop());
  ok(parts > 2, 'the reading order has several parts', parts);
  const frameUrl = () => page.frames().find((f) => f !== page.mainFrame() && f.url().includes('/content/'))?.url() || '';
  const firstUrl = frameUrl();
  await page.getByRole('button', { name: 'Suivant', exact: true }).click();
  await page.waitForFunction((u) => {
    const f = document.querySelector('iframe.book-frame');
    return f && f.src !== u;
  }, firstUrl);
  await frame.locator('body').waitFor();
  await page.waitForTimeout(300);
  is(await page.locator('.where').innerText(), `Partie 2 sur ${parts}`, 'next moves to the next part');
  let text = '';
  for (let i = 0; i < parts && text.length < 200; i++) {
    text = (await frame.locator('body').innerText()).trim();
    if (text.length < 200) {
      await page.getByRole('button', { name: 'Suivant', exact: true }).click();
      await page.waitForTimeout(400);
    }
  }
  ok(text.length >= 200, 'the reader shows the book\'s text', text.slice(0, 120));
  ok(frameUrl().includes('/content/'), 'book pages come from the loan\'s content link');
  await page.getByRole('button', { name: 'Texte plus grand' }).click();
  is(await page.locator('.reader-bar .size').innerText(), 'Taille du texte : 110 %', 'the text size grows');
  await page.getByRole('button', { name: 'Précédent', exact: true }).click();
  await page.waitForTimeout(300);
  const remembered = await page.locator('.where').innerText();
  await axe(page, 'reader');
  await shot(page, 'reader');
  // The page's clock is ours from here: fourteen minutes pass in a moment.
  await page.clock.install();
  await page.reload();
  await ready(page);
  is(await page.locator('.where').innerText(), remembered, 'the reader remembers the position');
  const tokenOf = (u) => (u.match(/\/content\/([^/]+)\//) || [])[1];
  await frame.locator('body').waitFor();
  const oldToken = tokenOf(await page.locator('iframe.book-frame').getAttribute('src'));
  const refreshed = page.waitForResponse((r) => /\/api\/v1\/loans\/[^/]+\/token$/.test(r.url()));
  // Tokens are stamped to the second: let one pass, or the fresh token is the same.
  await new Promise((r) => setTimeout(r, 1100));
  await page.clock.fastForward('14:30');
  const tokenResponse = await refreshed;
  is(tokenResponse.status(), 200, 'the reader asks for a fresh token before the old one expires');
  const fresh = (await tokenResponse.json()).token;
  await tokenResponse.finished();
  await page.waitForTimeout(200); // the page takes the answer in
  await page.getByRole('button', { name: 'Suivant', exact: true }).click();
  await page.waitForFunction((tok) => document.querySelector('iframe.book-frame').src.includes(tok), fresh, { timeout: 5000 })
    .catch(() => {});
  const newToken = tokenOf(await page.locator('iframe.book-frame').getAttribute('src'));
  ok(newToken === fresh && newToken !== oldToken, 'the next part is loaded with the fresh token',
    `new is old: ${newToken === oldToken}; new is fresh: ${newToken === fresh}; fresh is old: ${fresh === oldToken}; ${newToken && newToken.length}`);
  await frame.locator('body').waitFor();
  ok((await frame.locator('body').innerText()).trim().length > 0, 'and shows its text');
  await page.getByRole('button', { name: 'Précédent', exact: true }).click();
  await page.waitForTimeout(300);
  if (await page.locator('summary', { hasText: 'Table des matières' }).count()) {
    await page.locator('summary', { hasText: 'Table des matières' }).click();
    ok(await page.locator('.toc a').count() > 0, 'the table of contents lists the book\'s parts');
  } else {
    ok(false, 'the reader has a table of contents');
  }

  // ---- borrow a film ----
  await page.goto(`${base}/titles/${film}`);
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Film du domaine public', 'the film\'s page opens');
  ok(/Durée/.test(await page.locator('.details').innerText()), 'with its duration');
  await page.getByRole('button', { name: 'Emprunter', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Prêt enregistré' }).waitFor();

  // ---- account: both loans ----
  await page.getByRole('link', { name: 'Mon compte', exact: true }).click();
  await ready(page);
  const loanItem = page.locator('.items .item').filter({ hasText: "Children's Literature" });
  const filmItem = page.locator('.items .item').filter({ hasText: 'Film du domaine public' });
  ok(await loanItem.count() === 1, 'the account lists the e-book loan');
  ok(await filmItem.count() === 1, 'and the film loan');

  // ---- watch: playback advances, seeking works, the token is refreshed ----
  await filmItem.getByRole('link', { name: 'Regarder', exact: true }).click();
  await page.waitForURL(/\/play\//);
  await ready(page);
  const video = page.locator('video');
  await video.waitFor();
  await page.getByRole('button', { name: 'Lecture', exact: true }).click();
  const played = await page.waitForFunction(() => document.querySelector('video').currentTime > 1.5, null, { timeout: 30000 })
    .then(() => true, () => false);
  ok(played, 'the film plays: its time advances', await video.evaluate((v) => `t=${v.currentTime} state=${v.readyState} err=${v.error && v.error.message}`));
  const before = await video.evaluate((v) => v.currentTime);
  await page.getByRole('button', { name: 'Avancer de 10 secondes' }).click();
  const after = await video.evaluate((v) => v.currentTime);
  ok(after - before > 8, 'the forward button skips 10 seconds', `${before} -> ${after}`);
  await axe(page, 'player');
  await shot(page, 'player');
  await page.locator('.player .buttons button').first().click(); // pause
  await page.getByRole('link', { name: 'Retour à mon compte' }).click();
  await ready(page);

  // A long film outlives its token: the player fetches a fresh one and goes on with it.
  const streamToken = (u) => (u.match(/\/stream\/([^/]+)\//) || [])[1];
  const seen = new Set();
  const onStream = (r) => { if (r.url().includes('/stream/')) seen.add(streamToken(r.url())); };
  page.on('request', onStream);
  await page.goto(`${base}/titles/${longFilm}`);
  await ready(page);
  await page.getByRole('button', { name: 'Emprunter', exact: true }).click();
  await page.getByRole('link', { name: 'Regarder', exact: true }).click();
  await page.waitForURL(/\/play\//);
  await ready(page);
  await page.getByRole('button', { name: 'Lecture', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('video').currentTime > 1, null, { timeout: 30000 });
  await video.evaluate((v) => { v.currentTime = 40; });
  await page.waitForFunction(() => document.querySelector('video').currentTime > 41, null, { timeout: 30000 });
  const firstToken = [...seen][0];
  is(seen.size, 1, 'until then, one token for the whole stream');
  await new Promise((r) => setTimeout(r, 1100)); // tokens are stamped to the second
  const freshStream = page.waitForResponse((r) => /\/api\/v1\/loans\/[^/]+\/token$/.test(r.url()));
  await page.clock.fastForward('14:30');
  const tokenAnswer = await freshStream;
  is(tokenAnswer.status(), 200, 'the player asks for a fresh token before the old one expires');
  const freshToken = (await tokenAnswer.json()).token;
  ok(freshToken !== firstToken, 'a new token');
  await tokenAnswer.finished();
  await page.waitForTimeout(200);
  const later = page.waitForResponse((r) => r.url().includes(`/stream/${freshToken}/`), { timeout: 30000 });
  await video.evaluate((v) => { v.currentTime = 100; });
  const laterAnswer = await later.catch(() => null);
  is(laterAnswer && laterAnswer.status(), 200, 'segments after the refresh are fetched with the fresh token');
  const resumed = await page.waitForFunction(() => document.querySelector('video').currentTime > 101, null, { timeout: 30000 })
    .then(() => true, () => false);
  ok(resumed, 'and the film goes on');
  page.off('request', onStream);
  await page.locator('.player .buttons button').first().click(); // pause

  // ---- listen to music ----
  await page.goto(`${base}/titles/${music}`);
  await ready(page);
  await page.getByRole('button', { name: 'Emprunter', exact: true }).click();
  await page.getByRole('link', { name: 'Écouter', exact: true }).click();
  await page.waitForURL(/\/play\//);
  await ready(page);
  ok(await page.locator('audio').count() === 1, 'music gets an audio player');
  await page.getByRole('button', { name: 'Lecture', exact: true }).click();
  const heard = await page.waitForFunction(() => document.querySelector('audio').currentTime > 1, null, { timeout: 30000 })
    .then(() => true, () => false);
  ok(heard, 'the music plays: its time advances');
  await axe(page, 'music player');
  await page.locator('.player .buttons button').first().click(); // pause
  await page.getByRole('link', { name: 'Retour à mon compte' }).click();
  await ready(page);
  ok(/À rendre le/.test(await loanItem.innerText()), 'with its due date');
  const download = loanItem.getByRole('link', { name: /Télécharger/ });
  if (await download.count()) {
    const got = await page.evaluate((u) => fetch(u).then((r) => [r.status, r.headers.get('Content-Type')]),
      await download.getAttribute('href'));
    is(got.join(' '), '200 application/epub+zip', 'the Download button gives the EPUB');
  } else {
    ok(!loans.items[0].links.download, 'a Download button when the loan has a download link');
  }
  await axe(page, 'account');
  await shot(page, 'account');
  await loanItem.getByRole('button', { name: /Rendre/ }).click();
  await page.getByRole('status').filter({ hasText: 'est rendu' }).waitFor();
  is(await page.evaluate(() => document.activeElement.textContent), 'Mes prêts', 'the focus stays with the loans');
  is(await loanItem.count(), 0, 'the returned loan leaves the current loans');
  ok(/Children's Literature.*rendu/.test(await page.locator('.history').innerText()), 'the history shows the returned loan');

  // ---- a hold when the only copy is out ----
  const other2 = await (await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ library: 'TEST', card: '4343', password: 'second-lecteur' }) })).json();
  const bearer = { Authorization: `Bearer ${other2.token}`, 'Content-Type': 'application/json' };
  const lent = await fetch(`${base}/api/v1/loans`, { method: 'POST', headers: bearer, body: JSON.stringify({ title_id: other }) });
  is(lent.status, 201, 'another patron borrows the only copy of a second book');
  const lentLoan = (await lent.json()).loan;
  await page.goto(`${base}/titles/${other}`);
  await ready(page);
  ok(/0 sur 1 disponible/.test(await page.locator('.avail').first().innerText()), 'the title page says no copy is free');
  await page.getByRole('button', { name: 'Réserver', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'vous êtes 1 dans la file' }).waitFor();
  ok(true, 'placing a hold gives the queue position');
  await axe(page, 'title page with a hold');
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.waitForURL(`${base}/`);
  ok(await page.getByRole('link', { name: 'Se connecter' }).first().isVisible(), 'signed out');

  // ---- staff: licences with live counts ----
  await page.goto(`${base}/signin`);
  await ready(page);
  const staffForm = page.locator('section', { has: page.getByRole('heading', { name: 'Personnel des bibliothèques' }) });
  await staffForm.getByLabel('Adresse e-mail').fill('admin@test.example');
  await staffForm.getByLabel('Mot de passe').fill('gerer-les-licences');
  await staffForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}/staff`);
  await ready(page);
  const row = (title) => page.locator('#licences tbody tr').filter({ hasText: title });
  ok(await row('The Waste Land').count() === 1, 'staff see the licence of each title');
  is(await row('The Waste Land').locator('[data-col=in_use]').innerText(), '1', 'with its live count of loans');
  is(await row('The Waste Land').locator('[data-col=holds]').innerText(), '1', 'and the holds waiting');
  await axe(page, 'staff');
  await shot(page, 'staff');

  await page.getByLabel('Titre', { exact: true }).selectOption(book);
  await page.getByLabel('Prêts simultanés').fill('2');
  await page.getByRole('button', { name: 'Ajouter une licence' }).click();
  await page.getByRole('status').filter({ hasText: 'Licence ajoutée' }).waitFor();
  is(await row("Children's Literature").count(), 2, 'the new licence is listed');
  const avail = await (await fetch(`${base}/api/v1/titles/${book}`, { headers: bearer })).json();
  is(avail.availability.copies, 3, 'patrons now see three copies');

  // Borrowing elsewhere moves the counts the staff see.
  const l2 = await fetch(`${base}/api/v1/loans`, { method: 'POST', headers: bearer, body: JSON.stringify({ title_id: book }) });
  is(l2.status, 201, 'a patron borrows the book');
  await page.reload();
  await ready(page);
  const inUse = await row("Children's Literature").locator('[data-col=in_use]').allInnerTexts();
  is(inUse.map(Number).reduce((a, b) => a + b, 0), 1, 'the staff page shows the new loan in use');

  await row("Children's Literature").first().getByRole('button', { name: /Suspendre/ }).click();
  await page.getByRole('status').filter({ hasText: 'Licence suspendue' }).waitFor();
  is(await row("Children's Literature").first().locator('[data-col=state]').innerText(), 'suspendue', 'a suspended licence says so');

  const bad = fs.readdirSync(path.join(CORPUS, 'epub/invalid')).find((f) => f.endsWith('.epub'));
  await page.setInputFiles('#up-file', path.join(CORPUS, 'epub/invalid', bad));
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await page.getByRole('alert').filter({ hasText: 'Ce fichier n’est pas accepté' }).waitFor();
  ok(true, 'a refused upload says why, in French');
  await page.setInputFiles('#up-file', path.join(CORPUS, 'epub/valid/readium-SmokeTest-EPUB2.epub'));
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await page.getByRole('status').filter({ hasText: 'est au catalogue' }).waitFor();
  ok(await page.locator('#lic-title option').filter({ hasText: await page.locator('.status').innerText().then((x) => x.match(/« (.+) »/)[1]) }).count() === 1,
    'an uploaded title can be licensed at once');

  const report = page.locator('.report table');
  await report.waitFor();
  ok(/Children's Literature/.test(await report.innerText()), 'the usage report lists the loans');
  const tsvHref = await page.getByRole('link', { name: 'Exporter (TSV)' }).getAttribute('href');
  const tsv = await page.evaluate((h) => fetch(h).then((r) => r.text()), tsvHref);
  ok(tsv.startsWith('month\ttitle_id\ttitle\tloans'), 'the report exports as TSV', tsv.slice(0, 80));

  // ---- the hold comes in: the patron is told and borrows ----
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.waitForURL(`${base}/`);
  const back = await fetch(`${base}/api/v1/loans/${lentLoan.id}/return`, { method: 'POST', headers: bearer });
  is(back.status, 200, 'the other patron returns the second book');
  await page.goto(`${base}/signin?next=/account`);
  await ready(page);
  await patronForm.getByLabel('Numéro de carte').fill('4242');
  await patronForm.getByLabel('Mot de passe').fill('lire-en-paix');
  await patronForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}/account`);
  await ready(page);
  const readyHold = page.locator('.items .item.ready').filter({ hasText: 'The Waste Land' });
  ok(/Vous attend jusqu’au/.test(await readyHold.innerText()), 'the ready hold shows its deadline');
  ok(await page.getByText('Votre réservation de « The Waste Land » vous attend.').isVisible(), 'and a message says so');
  await axe(page, 'account with a ready hold');
  await shot(page, 'account-hold');
  await readyHold.getByRole('button', { name: /Emprunter/ }).click();
  await page.getByRole('status').filter({ hasText: '« The Waste Land » est emprunté' }).waitFor();
  ok(await page.locator('.items .item').filter({ hasText: 'The Waste Land' }).getByRole('link', { name: 'Lire', exact: true }).isVisible(),
    'the held book is borrowed and can be read');
  const heldLoan = page.locator('.items .item').filter({ hasText: 'The Waste Land' });
  await heldLoan.getByRole('button', { name: /Prolonger/ }).click();
  await page.getByRole('status').filter({ hasText: '« The Waste Land » est prolongé jusqu’au' }).waitFor();
  ok(true, 'a loan is renewed from the account');
  await page.getByRole('button', { name: 'Marquer comme lus' }).click();
  await page.getByRole('status').filter({ hasText: 'Messages marqués comme lus' }).waitFor();
  ok(true, 'messages are marked as read');

  // ---- the catalogue without JavaScript ----
  const index = await (await fetch(base)).text();
  ok(/<noscript>[\s\S]*href="\/catalogue"[\s\S]*<\/noscript>/.test(index), 'without JavaScript, the page points to /catalogue');
  await page.goto(`${base}/catalogue?q=children`);
  is(await page.getAttribute('html', 'lang'), 'fr', 'the server-rendered catalogue is in French');
  is(await page.locator('.cards .card').count(), 1, 'it finds the book');
  ok(await page.locator('.cards .card a[href^="/titles/"]').count() === 1, 'each result links to its title');
  await axe(page, 'catalogue without JavaScript');
  await shot(page, 'catalogue-nojs');
  await page.getByRole('searchbox').fill('<b>waste</b>');
  await page.getByRole('button', { name: 'Rechercher' }).click();
  await page.waitForURL(/\/catalogue\?q=/);
  is(await page.getByRole('searchbox').inputValue(), '<b>waste</b>', 'what was typed comes back as text, not markup');
  await page.goto(`${base}/catalogue?lang=en&kind=ebook`);
  const ebooks = (await (await fetch(`${base}/api/v1/titles?kind=ebook`)).json()).total;
  ok(ebooks >= 2, 'the e-books are counted', ebooks);
  is(await page.locator('#results-count').innerText(), `${ebooks} titles found.`, 'in English, by kind');

  // ---- pages the server itself answers ----
  const res = await page.goto(`${base}/no/such/page`);
  is(res.status(), 404, 'an unknown address is a 404');
  await page.goto(`${base}/titles/00000000-0000-0000-0000-000000000000`);
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Page introuvable', 'an unknown title says so');
  await axe(page, 'not found');

  ok(problems.length === 0, 'no script error and no Content-Security-Policy violation', problems.join('\n'));
}

try {
  await main();
} catch (e) {
  ok(false, `the journey ran to its end: ${e.message.split('\n')[0]}`, `${e.stack}\n${problems.join('\n')}\n--- server log (tail) ---\n${serverLog.join('').split('\n').slice(-30).join('\n')}`);
} finally {
  await cleanup();
}
console.log(`1..${n}`);
process.exit(failures ? 1 : 0);
