// The e-book reader (web/assets/reader.js, Readium's navigator) in Debian's chromium:
// pages turned by button and keyboard against the server's positions list, the table of
// contents, text size applied inside the book, the position remembered, links inside a
// book followed, the token refreshed under a long reading session, a fixed-layout book,
// a book's scripts kept from running, an ended loan. TAP on stdout.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CORPUS, root, axe, is, needDatabase, ok, portal, ready, shot, zoom200 } from './portal_fixture.mjs';

needDatabase();
const P = portal('reader_js');
const { cli } = P;

// The text of the book's pages on show (the navigator's frames are of this origin).
const shownText = (page) => page.evaluate(() => [...document.querySelectorAll('.reader-pages iframe')]
  .filter((f) => f.style.visibility !== 'hidden' && f.contentDocument && f.contentDocument.body)
  .map((f) => f.contentDocument.body.innerText).join('\n').trim());
const where = (page) => page.locator('.where').innerText();
const pageNumber = async (page) => Number(((await where(page)).match(/^Page (\d+) sur/) || [])[1]);
// Waits until the page number is exactly eq, or above gt.
async function waitPage(page, { eq, gt }) {
  await page.waitForFunction(([e, g]) => {
    const m = (document.querySelector('.where') || {}).textContent?.match(/^Page (\d+) sur (\d+)$/);
    return m && (e === undefined || Number(m[1]) === e) && (g === undefined || Number(m[1]) > g);
  }, [eq, gt]);
}

// An EPUB whose page tries every way of running script or leaving the page: inline and
// event-attribute scripts, a javascript: link, a frame and an object opening an XML page
// (declared application/xml) and an SVG with scripts, a <meta> refresh, a form.
function makeHostileBook(dir) {
  const root = path.join(dir, 'hostile');
  const put = (name, text) => {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  };
  put('mimetype', 'application/epub+zip');
  put('META-INF/container.xml', '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    + '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>');
  put('OEBPS/content.opf', `<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:6c1f7e1e-0b5e-4c47-9d2a-7a4f3c2b9d10</dc:identifier>
<dc:title>Le Livre piégé</dc:title><dc:language>fr</dc:language><meta property="dcterms:modified">2026-11-25T00:00:00Z</meta></metadata>
<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="p1" href="p1.xhtml" media-type="application/xhtml+xml" properties="scripted"/>
<item id="x" href="evil.xml" media-type="application/xml"/>
<item id="s" href="evil.svg" media-type="image/svg+xml" properties="scripted"/></manifest>
<spine><itemref idref="p1"/></spine></package>`);
  put('OEBPS/nav.xhtml', `<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Sommaire</title></head>
<body><nav epub:type="toc"><ol><li><a href="p1.xhtml">Page</a></li></ol></nav></body></html>`);
  put('OEBPS/p1.xhtml', `<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="fr"><head><title>Piège</title>
<meta http-equiv="refresh" content="1;url=evil.xml"/>
<script>top.pwned = 'inline';</script></head>
<body onload="top.pwned = 'onload'"><h1>Une page piégée</h1>
<p>Texte ordinaire qui doit rester lisible.</p>
<p><img src="nothing.png" onerror="top.pwned = 'onerror'" alt="rien"/></p>
<iframe src="evil.xml" title="x"></iframe>
<object data="evil.svg" type="image/svg+xml"></object>
<p><a id="js" href="javascript:top.pwned = 'link'">lien</a></p>
<form action="/api/v1/session" method="post"><p><button>envoyer</button></p></form>
</body></html>`);
  put('OEBPS/evil.xml', '<?xml version="1.0"?><root xmlns:x="http://www.w3.org/1999/xhtml"><x:script>top.pwned = \'xml\';</x:script></root>');
  put('OEBPS/evil.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>top.pwned = \'svg\';</script></svg>');
  const file = path.join(dir, 'hostile.epub');
  execFileSync('zip', ['-X', '-0', '-q', file, 'mimetype'], { cwd: root });
  execFileSync('zip', ['-X', '-r', '-q', file, 'META-INF', 'OEBPS'], { cwd: root });
  return file;
}

async function main() {
  const book = cli(['import', path.join(CORPUS, 'epub/valid/idpf-childrens-literature.epub')]);
  const fxl = cli(['import', path.join(CORPUS, 'epub/valid/readium-SmokeTestFXL.epub')]);
  const consortium = cli(['consortium', 'add', 'Réseau des lecteurs']);
  cli(['library', 'add', '--consortium', consortium, '--code', 'LIRE', 'Médiathèque de lecture']);
  cli(['patron', 'add', '--library', 'LIRE', '--card', '77', '--name', 'Camille Liseuse'], 'tourner-les-pages\n');
  for (const t of [book, fxl]) cli(['licence', 'add', '--title', t, '--consortium', consortium, '--concurrency', '2']);

  const page = await P.serve();
  const base = P.base;
  const contentRequests = [];
  page.on('response', (r) => {
    if (r.url().includes('/content/')) contentRequests.push({ url: r.url(), status: r.status() });
  });
  await page.goto(base);
  const api = (method, url, body) => page.evaluate(async ([m, u, b]) => {
    const c = (document.cookie.match(/(?:^|;\s*)pretnum_csrf=([^;]+)/) || [])[1] || '';
    const r = await fetch(u, { method: m, headers: { 'content-type': 'application/json', 'X-CSRF-Token': c },
      body: b ? JSON.stringify(b) : undefined });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, [method, url, body]);
  is((await api('POST', '/api/v1/session', { library: 'LIRE', card: '77', password: 'tourner-les-pages' })).status, 201,
    'the patron signs in');
  const loan = (await api('POST', '/api/v1/loans', { title_id: book })).body.loan;
  const fxlLoan = (await api('POST', '/api/v1/loans', { title_id: fxl })).body.loan;
  ok(loan && fxlLoan, 'and borrows a reflowable and a fixed-layout book');

  // ---- the navigator's files: its translations are modules it imports next to itself ----
  const nav = fs.readFileSync(path.join(root, 'web/node_modules/@readium/navigator/dist/index.js'), 'utf8');
  const chunks = [...nav.matchAll(/import\("\.\/([^"]+\.js)"\)/g)].map((m) => m[1]);
  const served = await Promise.all(['navigator.js', 'shared.js', ...chunks]
    .map(async (f) => [f, (await fetch(`${base}/vendor/readium/${f}`)).status]));
  ok(chunks.length > 0 && served.every(([, st]) => st === 200), 'every file of the navigator is served from /vendor/readium/',
    served.filter(([, st]) => st !== 200).map(([f, st]) => `${st} ${f}`).join('\n'));

  // ---- the positions list the reader pages through ----
  const manifest = await (await fetch(`${base}${loan.links.read}`)).json();
  const posLink = manifest.links.find((l) => l.type === 'application/vnd.readium.position-list+json');
  ok(posLink, 'the manifest links to its positions list');
  const positions = await (await fetch(`${base}${posLink.href}`)).json();
  ok(positions.total === positions.positions.length && positions.total >= manifest.readingOrder.length,
    'the list has at least one position per resource of the reading order', `${positions.total} for ${manifest.readingOrder.length}`);
  const orderHrefs = new Set(manifest.readingOrder.map((l) => l.href));
  ok(positions.positions.every((p, i) => orderHrefs.has(p.href) && p.locations.position === i + 1),
    'every position names a resource of the reading order, numbered from 1');

  // ---- reading: pages, keyboard, size, table of contents ----
  await page.goto(`${base}/read/${loan.id}`);
  await ready(page);
  await waitPage(page, { eq: 1 });
  is(await where(page), `Page 1 sur ${positions.total}`, 'the reader opens at page 1 of the positions list');
  is(await page.getByRole('button', { name: 'Précédent', exact: true }).getAttribute('aria-disabled'), 'true',
    'there is no page before the first (said, and the button keeps the focus)');
  await page.getByRole('button', { name: 'Suivant', exact: true }).click();
  await waitPage(page, { gt: 1 });
  const p2 = await pageNumber(page);
  ok(p2 > 1, 'next turns the page', await where(page));
  await page.locator('main h1').click(); // the keys go to the portal, not a form field
  await page.keyboard.press('ArrowRight');
  await waitPage(page, { gt: p2 });
  ok(true, 'the right arrow key turns the page too');
  await page.keyboard.press('ArrowLeft');
  await waitPage(page, { eq: p2 });
  ok(true, 'and the left arrow key turns it back');
  await page.evaluate(() => [...document.querySelectorAll('.reader-pages iframe')]
    .find((f) => f.style.visibility !== 'hidden').contentWindow.focus());
  await page.keyboard.press('PageDown');
  await waitPage(page, { gt: p2 });
  ok(true, 'with the book\'s page in focus, Page Down turns the page');
  await page.keyboard.press('ArrowLeft');
  await waitPage(page, { eq: p2 });
  ok(true, 'and the left arrow turns it back');
  const text = await shownText(page);
  ok(text.length >= 100, 'the book\'s text is on show', text.slice(0, 120));

  // The size the text is drawn at: its font size times any zoom above it (Readium CSS
  // sets the reader's text size with zoom).
  const fontSize = () => page.evaluate(() => {
    const f = [...document.querySelectorAll('.reader-pages iframe')].find((x) => x.style.visibility !== 'hidden');
    const el = f.contentDocument.querySelector('p') || f.contentDocument.body;
    const css = (e) => f.contentWindow.getComputedStyle(e);
    let size = parseFloat(css(el).fontSize);
    for (let e = el; e; e = e.parentElement) size *= parseFloat(css(e).zoom) || 1;
    return size;
  });
  const before = await fontSize();
  await page.getByRole('button', { name: 'Texte plus grand' }).click();
  await page.getByRole('button', { name: 'Texte plus grand' }).click();
  is(await page.locator('.reader-bar .size').innerText(), 'Taille du texte : 125 %', 'the text size grows in steps');
  for (let i = 0; i < 25 && await fontSize() <= before * 1.15; i++) await page.waitForTimeout(200);
  const after = await fontSize();
  ok(after > before * 1.15, 'and the book\'s own text is set larger', `${before}px → ${after}px`);

  await page.locator('summary', { hasText: 'Table des matières' }).click();
  const entries = page.locator('.toc a');
  ok(await entries.count() > 2, 'the table of contents lists the book\'s parts', await entries.count());
  const last = entries.last();
  const lastTitle = (await last.innerText()).trim();
  const lastHref = await last.getAttribute('data-href');
  await last.click();
  await page.waitForFunction((href) => [...document.querySelectorAll('.reader-pages iframe')]
    .some((f) => f.style.visibility !== 'hidden' && f.contentDocument
      && (f.contentDocument.querySelector('base') || {}).href?.endsWith(href.split('#')[0])), lastHref, { timeout: 10000 })
    .catch(() => {});
  const shownBase = await page.evaluate(() => [...document.querySelectorAll('.reader-pages iframe')]
    .filter((f) => f.style.visibility !== 'hidden').map((f) => (f.contentDocument.querySelector('base') || {}).href).join(' '));
  ok(shownBase.endsWith(lastHref.split('#')[0]), `a table of contents entry ("${lastTitle}") opens its part`, shownBase);
  ok(await pageNumber(page) > p2, 'and the page number follows', await where(page));

  // ---- the position is remembered, the token renewed ----
  const remembered = await where(page);
  await page.clock.install();
  await page.reload();
  await ready(page);
  await waitPage(page, { gt: 0 });
  is(await where(page), remembered, 'the reader remembers the position');
  is(await page.locator('.reader-bar .size').innerText(), 'Taille du texte : 125 %', 'and the text size');
  await axe(page, 'reader');
  await shot(page, 'reader-reflowable');
  await zoom200(page, 'the reader');
  const refreshed = page.waitForResponse((r) => /\/api\/v1\/loans\/[^/]+\/token$/.test(r.url()));
  // Tokens are stamped to the second: let one pass, or the fresh token is the same.
  await new Promise((r) => setTimeout(r, 1100));
  await page.clock.fastForward('14:30');
  const tokenResponse = await refreshed;
  is(tokenResponse.status(), 200, 'the reader asks for a fresh token before the old one expires');
  const fresh = (await tokenResponse.json()).token;
  await page.waitForTimeout(200);
  const seen = contentRequests.length;
  await page.locator('summary', { hasText: 'Table des matières' }).click();
  await entries.first().click();
  await page.waitForFunction(() => /^Page \d+ sur/.test(document.querySelector('.where').textContent));
  for (let i = 0; i < 25 && !(await shownText(page)).length; i++) await page.waitForTimeout(200);
  const later = contentRequests.slice(seen);
  ok(later.length > 0 && later.every((r) => r.url.includes(`/content/${fresh}/`) && r.status === 200),
    'pages opened afterwards are loaded with the fresh token',
    later.map((r) => `${r.status} ${r.url.includes(fresh) ? 'fresh' : 'OLD'} ${r.url.replace(/\/content\/[^/]+/, '')}`).join('\n'));
  ok((await shownText(page)).length > 0, 'and show their text');
  const dl = page.getByRole('link', { name: 'Télécharger pour une application de lecture (EPUB)' });
  is(await dl.getAttribute('href'), `/download/${fresh}`, 'the download link for reading apps follows the fresh token');
  const file = await page.evaluate(async (u) => {
    const r = await fetch(u);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('content-type'), zip: b[0] === 0x50 && b[1] === 0x4b };
  }, await dl.getAttribute('href'));
  ok(file.status === 200 && file.type === 'application/epub+zip' && file.zip, 'and gives the EPUB', JSON.stringify(file));

  // ---- a fixed-layout book whose pages carry scripts ----
  await page.goto(`${base}/read/${fxlLoan.id}`);
  await ready(page);
  await waitPage(page, { eq: 1 });
  const fxlManifest = await (await fetch(`${base}${fxlLoan.links.read}`)).json();
  is(await where(page), `Page 1 sur ${fxlManifest.readingOrder.length}`, 'a fixed-layout book has one position per page');
  // Its first page is its table of contents: a link in the book goes where it points.
  const target = fxlManifest.readingOrder.findIndex((l) => l.href.endsWith('xhtml/multimedia-001.xhtml')) + 1;
  const navFrame = page.frames().find((f) => f.url().startsWith('blob:') && f !== page.mainFrame());
  let clicked = false;
  for (const f of page.frames()) {
    if (f === page.mainFrame() || clicked) continue;
    const link = f.locator('a[href="multimedia-001.xhtml"]');
    if (await link.count().catch(() => 0)) {
      await link.first().click();
      clicked = true;
    }
  }
  ok(clicked && navFrame, 'the book\'s own table of contents is on show');
  await waitPage(page, { gt: target - 2 });
  const landed = await pageNumber(page);
  ok(landed === target || landed === target - 1, 'a link inside the book opens the page it points to (or its spread)',
    `${await where(page)}, the link's page is ${target}`);
  await page.locator('summary', { hasText: 'Table des matières' }).click();
  await page.locator('.toc a', { hasText: 'Chapter 8 - Scripting' }).click();
  await page.waitForFunction(() => document.querySelector('.where').textContent.match(/^Page (\d+)/)[1] > 1);
  // Page on to the page whose inline script would write PASS into it when run.
  let verdict = null;
  for (let i = 0; i < 8 && verdict === null; i++) {
    verdict = await page.evaluate(() => {
      for (const f of document.querySelectorAll('.reader-pages iframe')) {
        const el = f.contentDocument && f.contentDocument.getElementById('scr-010-result');
        if (el) return { text: el.textContent, defined: typeof f.contentWindow.results };
      }
      return null;
    });
    if (verdict === null) {
      await page.getByRole('button', { name: 'Suivant', exact: true }).click();
      await page.waitForTimeout(700);
    }
  }
  ok(verdict && verdict.defined === 'undefined', 'a book\'s inline script does not run in the reader (what it defines is not there)',
    JSON.stringify(verdict));
  ok(verdict && verdict.text === 'FAIL', 'nor its onload attribute (the page still reads FAIL)', JSON.stringify(verdict));
  const left = await page.evaluate(() => {
    for (const f of document.querySelectorAll('.reader-pages iframe')) {
      const d = f.contentDocument;
      if (d && d.getElementById('scr-010-result')) {
        return { scripts: [...d.scripts].filter((x) => !x.src.startsWith('blob:')).length,
          handlers: d.querySelectorAll('[onload]').length, frames: d.querySelectorAll('iframe').length };
      }
    }
    return null;
  });
  ok(left && !left.scripts && !left.handlers && !left.frames, 'the page reaches its frame without its scripts, handlers or frames',
    JSON.stringify(left));
  const scripts = contentRequests.filter((r) => r.url.endsWith('/scripts/rso.js') || r.url.includes('-inset.xhtml'));
  ok(scripts.every((r) => r.status === 403), 'no script file or inner page of the book is sent to the reader',
    scripts.map((r) => `${r.status} ${r.url.replace(/.*\/content\/[^/]+/, '')}`).join('\n'));
  await axe(page, 'reader, fixed layout');
  await shot(page, 'reader-fixed');

  // ---- a remembered place the book no longer has (a new edition) ----
  const third = positions.positions.find((p) => p.href !== positions.positions[0].href && p.locations.progression === 0);
  const rel = third.href.replace(/^\/content\/[^/]+\//, '');
  await page.evaluate(([k, href]) => localStorage.setItem(k, JSON.stringify({ scale: 1,
    locator: { href, type: 'application/xhtml+xml', locations: { position: 99999, progression: 0.5 } } })),
  [`pretnum.reader.${book}`, rel]);
  await page.goto(`${base}/read/${loan.id}`);
  await ready(page);
  await waitPage(page, { gt: 0 });
  is(await where(page), `Page ${third.locations.position} sur ${positions.total}`,
    'a remembered place the list no longer has opens its part at the start');

  // ---- a book that tries everything: nothing runs, nothing navigates, the text stays ----
  const hostile = makeHostileBook(P.tmp);
  const trap = cli(['import', hostile]);
  cli(['licence', 'add', '--title', trap, '--consortium', consortium, '--concurrency', '2']);
  const trapLoan = (await api('POST', '/api/v1/loans', { title_id: trap })).body.loan;
  await page.goto(`${base}/read/${trapLoan.id}`);
  await ready(page);
  await waitPage(page, { eq: 1 });
  await page.waitForTimeout(2500); // its <meta> refresh asked for 1 s
  for (const f of page.frames()) {
    const link = f.locator('#js');
    if (f !== page.mainFrame() && await link.count().catch(() => 0)) await link.click().catch(() => {});
  }
  await page.waitForTimeout(500);
  const trapped = await page.evaluate(() => ({ pwned: window.pwned, path: location.pathname }));
  ok(trapped.pwned === undefined, 'a hostile page\'s inline script, onload, onerror, javascript: link, frame, object and refresh run nothing',
    JSON.stringify(trapped));
  is(trapped.path, `/read/${trapLoan.id}`, 'and the reader is still where it was');
  ok((await shownText(page)).includes('Texte ordinaire qui doit rester lisible.'), 'while its text is shown');
  const evil = contentRequests.filter((r) => /evil\.(xml|svg)$/.test(r.url));
  ok(evil.every((r) => r.status === 403), 'its XML and SVG are never sent to be opened as documents',
    evil.map((r) => `${r.status} ${r.url.replace(/.*\/content\/[^/]+/, '')}`).join('\n'));

  // ---- an ended loan ----
  is((await api('POST', `/api/v1/loans/${loan.id}/return`)).status, 200, 'the patron returns the book');
  await page.goto(`${base}/read/${loan.id}`);
  await ready(page);
  ok(await page.getByRole('alert').filter({ hasText: 'Ce prêt est terminé' }).isVisible(), 'the reader of a returned loan says it has ended');
  ok(P.problems.length === 0, 'no script error and no Content-Security-Policy report, from the portal or a book', P.problems.join('\n'));
}

await P.run(main);
