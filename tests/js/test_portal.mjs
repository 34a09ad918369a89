// The portal in a real browser: Debian's chromium driven by playwright-core against a
// real `pretnum serve` on its own database. A patron signs in, searches, borrows and
// reads an e-book, finds it in the account and returns it; staff add and suspend a
// licence and watch the counts move. axe-core checks every page for WCAG 2.1 A/AA,
// and screenshots at 1280 and 360 px are kept as artefacts. TAP on stdout.
// (The reader's own tests are in test_reader.mjs; the shared harness in portal_fixture.mjs.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CORPUS, axe, is, needDatabase, ok, portal, ready, shot, zoom200 } from './portal_fixture.mjs';

needDatabase();
const P = portal('portal_js');
const { cli, tmp, problems } = P;

async function main() {
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

  const page = await P.serve();
  const base = P.base;

  // ---- anonymous: home, search, title ----
  await page.goto(base);
  await ready(page);
  is(await page.getAttribute('html', 'lang'), 'fr', 'the portal is in French by default');
  is(await page.locator('main h1').innerText(), 'Empruntez, lisez, écoutez', 'home page heading');
  ok(await page.getByRole('heading', { name: 'Nouveautés : Livres numériques' }).isVisible(), 'home lists new e-books');
  ok(await page.getByRole('link', { name: "Children's Literature" }).first().isVisible(), 'an imported book is on the home page');
  const coverAlt = await page.locator('img.cover').first().getAttribute('alt');
  ok(/^Couverture de « .+ »$/.test(coverAlt || ''), 'covers have a text alternative', coverAlt);
  // What the browser chose, asked again past its cache: while one thumbnail is made,
  // the server may send another cover as it is, marked not to be kept.
  const firstCover = await page.locator('img.cover').first().evaluate(async (img) => {
    if (!img.complete) await new Promise((r) => { img.addEventListener('load', r, { once: true }); img.addEventListener('error', r, { once: true }); });
    const res = await fetch(img.currentSrc, { cache: 'no-store' });
    const bitmap = await createImageBitmap(await res.blob());
    return { src: img.currentSrc, width: bitmap.width, type: res.headers.get('content-type') };
  });
  ok(/\?w=(160|240|320|480)$/.test(firstCover.src) && firstCover.type === 'image/webp' && firstCover.width > 0
    && firstCover.width <= 480, 'covers come as the WebP thumbnail the browser picks, not the full picture', JSON.stringify(firstCover));
  ok(await page.locator('header >> role=navigation').count() === 1 && await page.locator('main').count() === 1
    && await page.locator('footer').count() === 1, 'landmarks: banner navigation, main, footer');
  await page.keyboard.press('Tab');
  is(await page.evaluate(() => document.activeElement.textContent), 'Aller au contenu', 'the first Tab reaches the skip link');
  ok(await page.evaluate(() => document.activeElement.getBoundingClientRect().top >= 0), 'which shows itself when focused');
  await axe(page, 'home');
  await shot(page, 'home');
  await zoom200(page, 'home');

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
  await zoom200(page, 'search');

  // ---- title page: borrow ----
  await page.getByRole('link', { name: "Children's Literature" }).click();
  await ready(page);
  is(await page.locator('main h1').innerText(), "Children's Literature", 'the title page opens');
  ok(await page.getByRole('heading', { name: 'Accessibilité' }).isVisible(), 'the title page has an accessibility section');
  await page.getByLabel('Durée du prêt').selectOption('7');
  await axe(page, 'title page');
  await shot(page, 'title');
  await zoom200(page, 'title');
  await page.getByRole('button', { name: 'Emprunter', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Prêt enregistré' }).waitFor();
  ok(true, 'borrowing is announced in a live region');
  is(await page.evaluate(() => document.activeElement.textContent), 'Lire', 'and the focus moves to Read');
  const loans = await page.evaluate(() => fetch('/api/v1/loans').then((r) => r.json()));
  is(loans.items.length, 1, 'the loan exists');
  const dueDays = (new Date(loans.items[0].due) - new Date(loans.items[0].started)) / 86400000;
  is(Math.round(dueDays), 7, 'the chosen loan length is used');

  // ---- reader (in depth: test_reader.mjs) ----
  await page.getByRole('link', { name: 'Lire', exact: true }).click();
  await page.waitForURL(/\/read\//);
  await ready(page);
  await page.waitForFunction(() => /^Page \d+ sur \d+$/.test(document.querySelector('.where').textContent));
  const positionText = await page.locator('.where').innerText();
  ok(/^Page 1 sur \d+$/.test(positionText), 'the reader opens the book at its first page', positionText);
  await page.getByRole('button', { name: 'Suivant', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('.where').textContent.startsWith('Page 2 '));
  ok(true, 'next turns the page');
  const shown = await page.evaluate(() => [...document.querySelectorAll('.reader-pages iframe')]
    .filter((f) => f.style.visibility !== 'hidden').map((f) => f.contentDocument.body.innerText).join(' ').trim());
  ok(shown.length > 0, 'the page shows the book\'s text', shown.slice(0, 120));
  await axe(page, 'reader');
  await shot(page, 'reader');

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
  await zoom200(page, 'player');
  await page.locator('.player .buttons button').first().click(); // pause
  await page.getByRole('link', { name: 'Retour à mon compte' }).click();
  await ready(page);

  // A long film outlives its token: the player fetches a fresh one and goes on with it.
  const streamToken = (u) => (u.match(/\/stream\/([^/]+)\//) || [])[1];
  const seen = new Set();
  const onStream = (r) => { if (r.url().includes('/stream/')) seen.add(streamToken(r.url())); };
  page.on('request', onStream);
  // The page's clock is ours from here: fourteen minutes pass in a moment.
  await page.clock.install();
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
  await zoom200(page, 'account');
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

await P.run(main);
