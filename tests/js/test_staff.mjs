// The staff side of the portal for a library admin, in Debian's chromium driven by
// playwright-core against a real `pretnum serve` on its own database. The admin sees
// only its library's licences and usage (the network's shared licence and another
// library's are not in the server's answers, and the page offers nothing the server
// would refuse), adds a licence, watches the counts move as patrons borrow and wait,
// suspends it, reads the usage report and exports it as TSV, then pages through more
// licences and report rows than fit on a page. A patron who opens /staff is told it is
// for staff. axe-core checks each page for WCAG 2.1 A/AA; screenshots at 1280 and
// 360 px go to build/artefacts/portal/staff-*.png. TAP on stdout.
//
// Environment (scripts/check.sh): PRETNUM_BIN, PRETNUM_TEST_PG, PRETNUM_CORPUS;
// PRETNUM_ARTEFACTS (default build/artefacts).
import path from 'node:path';
import { CORPUS, axe, is, needDatabase, ok, portal, ready, shot } from './portal_fixture.mjs';

needDatabase();
const P = portal('staff_js');
const { cli, psql, problems, db } = P;

async function main() {
  const shared = cli(['import', path.join(CORPUS, 'epub/valid/idpf-childrens-literature.epub')]);
  const own = cli(['import', path.join(CORPUS, 'epub/valid/idpf-wasteland-otf-obf.epub')]);
  const added = cli(['import', path.join(CORPUS, 'epub/valid/readium-SmokeTest-EPUB2.epub'), '--title', 'Titre à licencier']);
  const many = cli(['import', path.join(CORPUS, 'epub/valid/epubcheck-epub2-ocf-minimal-valid.epub'), '--title', 'Zzz pour les pages']);
  const consortium = cli(['consortium', 'add', 'Réseau du test']);
  cli(['library', 'add', '--consortium', consortium, '--code', 'NORD', 'Médiathèque du Nord']);
  cli(['library', 'add', '--consortium', consortium, '--code', 'SUD', 'Bibliothèque du Sud']);
  cli(['patron', 'add', '--library', 'NORD', '--card', '1001', '--name', 'Chloé Nord'], 'premier-lecteur\n');
  cli(['patron', 'add', '--library', 'NORD', '--card', '1002', '--name', 'David Nord'], 'second-lecteur\n');
  cli(['patron', 'add', '--library', 'SUD', '--card', '2001', '--name', 'Emma Sud'], 'lectrice-du-sud\n');
  cli(['staff', 'add', '--consortium', consortium, '--library', 'NORD', '--email', 'nord@test.example', '--role', 'library_admin'],
    'gerer-le-nord\n');
  const sharedLicence = cli(['licence', 'add', '--title', shared, '--consortium', consortium, '--concurrency', '2']);
  const ownLicence = cli(['licence', 'add', '--title', own, '--consortium', consortium, '--library', 'NORD', '--concurrency', '1']);
  const southLicence = cli(['licence', 'add', '--title', own, '--consortium', consortium, '--library', 'SUD', '--concurrency', '1']);

  const page = await P.serve({ timezoneId: 'UTC' });
  const base = P.base;
  const json = async (method, url, token, body) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${base}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return [res.status, res.status === 204 ? null : await res.json()];
  };
  const signIn = async (body) => (await json('POST', '/api/v1/session', null, body))[1].token;
  const chloe = await signIn({ library: 'NORD', card: '1001', password: 'premier-lecteur' });
  const david = await signIn({ library: 'NORD', card: '1002', password: 'second-lecteur' });
  const emma = await signIn({ library: 'SUD', card: '2001', password: 'lectrice-du-sud' });
  const admin = await signIn({ email: 'nord@test.example', password: 'gerer-le-nord' });
  ok(chloe && david && emma && admin, 'everyone can sign in through the API');

  const patronForm = page.locator('section', { has: page.getByRole('heading', { name: 'Lecteur ou lectrice' }) });
  const staffForm = page.locator('section', { has: page.getByRole('heading', { name: 'Personnel des bibliothèques' }) });

  // ---- a patron at /staff is told it is for staff ----
  await page.goto(`${base}/signin?next=/staff`);
  await ready(page);
  await patronForm.getByLabel('Code de votre bibliothèque').fill('NORD');
  await patronForm.getByLabel('Numéro de carte').fill('1001');
  await patronForm.getByLabel('Mot de passe').fill('premier-lecteur');
  await patronForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}/staff`);
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Accès réservé au personnel', 'a patron at /staff gets a page saying it is for staff');
  ok(/personnel des bibliothèques/.test(await page.locator('main').innerText()), 'which says why');
  ok(await page.getByRole('link', { name: 'Aller à mon compte' }).isVisible(), 'and offers the way to the account');
  is(await page.locator('#licences').count(), 0, 'no staff table is drawn for a patron');
  is((await page.evaluate(() => fetch('/api/v1/admin/licences').then((r) => r.status))), 403, 'as the API refuses a patron');
  await page.goto(`${base}/staff`);
  await ready(page);
  is(await page.locator('main h1').innerText(), 'Accès réservé au personnel', 'opening /staff directly says the same');
  await axe(page, 'staff page refused to a patron');
  await shot(page, 'staff-denied');
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.waitForURL(`${base}/`);

  // ---- the library admin: its own licences only ----
  await page.goto(`${base}/signin`);
  await ready(page);
  await staffForm.getByLabel('Adresse e-mail').fill('nord@test.example');
  await staffForm.getByLabel('Mot de passe').fill('gerer-le-nord');
  await staffForm.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}/staff`);
  await ready(page);
  await page.locator('#licences tbody tr').first().waitFor();
  is(await page.locator('main .lead').innerText(), 'Médiathèque du Nord', 'the page names the admin\'s library');
  const row = (id) => page.locator(`#licences tbody tr[data-licence="${id}"]`);
  const cell = (id, col) => row(id).locator(`[data-col=${col}]`).innerText();
  const ids = async () => page.locator('#licences tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.licence));
  const apiLicences = (await json('GET', '/api/v1/admin/licences?per_page=100', admin))[1];
  is(JSON.stringify(await ids()), JSON.stringify(apiLicences.items.map((l) => l.id)), 'the table lists what the API gives a library admin');
  is(await row(ownLicence).count(), 1, 'the library\'s own licence is listed');
  is(await row(sharedLicence).count(), 0, 'the network\'s shared licence is not (the API does not give it to a library admin)');
  is(await row(southLicence).count(), 0, 'nor another library\'s licence');
  is((await json('PATCH', `/api/v1/admin/licences/${southLicence}`, admin, { suspended: true }))[0], 404,
    'the API will not let it change another library\'s licence');
  ok(/licences partagées par tout le réseau/.test(await page.locator('#lic-h + .hint').innerText()), 'the page says shared licences are managed by the network');
  is(JSON.stringify(await page.locator('#lic-library option').evaluateAll((os) => os.map((o) => o.value))), '["NORD"]',
    'a licence can be added for its own library only');
  is(await page.locator('#licences tbody tr').filter({ hasText: 'Tout le réseau' }).count(), 0, 'every button acts on a licence it may change');
  is(await page.locator('#licences thead th').filter({ hasText: 'Bibliothèque' }).count(), 0, 'no library column: they are all its library\'s');
  is(await page.locator('#licences tbody tr').first().locator('th, td').count(), await page.locator('#licences thead th').count(),
    'each row has a cell under each heading');
  await axe(page, 'staff (library admin)');
  await shot(page, 'staff-library');

  // ---- adding a licence ----
  const expires = new Date(Date.now() + 365 * 86400000).toISOString().slice(0, 10);
  await page.getByLabel('Titre', { exact: true }).selectOption(added);
  await page.getByLabel('Prêts simultanés').fill('1');
  await page.getByLabel('Prêts au total (facultatif)').fill('3');
  await page.getByLabel('Fin (facultatif)').fill(expires);
  await page.getByRole('button', { name: 'Ajouter une licence' }).click();
  await page.getByRole('status').filter({ hasText: 'Licence ajoutée pour « Titre à licencier »' }).waitFor();
  const mine = (await json('GET', `/api/v1/admin/licences?title_id=${added}`, admin))[1].items;
  is(mine.length, 1, 'the licence exists');
  is(mine[0].library, 'NORD', 'for the admin\'s library');
  const lic = mine[0].id;
  is(await cell(lic, 'in_use'), '0', 'it is listed with nothing in use');
  is(await cell(lic, 'checkouts_left'), '3', 'three loans left');
  const expiryText = await page.evaluate((iso) => new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long' }).format(new Date(iso)), mine[0].expires);
  is(await cell(lic, 'expires'), expiryText, 'and its expiry');
  is(await cell(lic, 'state'), 'active', 'active');

  // ---- patrons borrow and wait: the counts move ----
  is((await json('POST', '/api/v1/loans', chloe, { title_id: added }))[0], 201, 'a patron of the library borrows the title');
  const [refused, why] = await json('POST', '/api/v1/loans', david, { title_id: added });
  is(`${refused} ${why.error && why.error.code}`, '409 no_copy_available', 'a second patron is turned away: no copy left');
  is((await json('POST', '/api/v1/holds', david, { title_id: added }))[0], 201, 'and places a hold');
  is((await json('POST', '/api/v1/loans', emma, { title_id: shared }))[0], 201, 'a patron of another library borrows a shared title');
  await page.getByRole('button', { name: 'Actualiser les compteurs' }).click();
  await page.getByRole('status').filter({ hasText: 'Compteurs à jour.' }).waitFor();
  is(await cell(lic, 'in_use'), '1', 'the staff page shows the loan in use');
  is(await cell(lic, 'checkouts_left'), '2', 'and one loan fewer left');
  is(await cell(lic, 'holds'), '1', 'and the hold waiting');
  await page.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Actualiser les compteurs');
  ok(true, 'the focus stays on the refresh button');

  // ---- suspending it ----
  await row(lic).getByRole('button', { name: 'Suspendre Titre à licencier' }).click();
  await page.getByRole('status').filter({ hasText: 'Licence suspendue.' }).waitFor();
  is(await cell(lic, 'state'), 'suspendue', 'a suspended licence says so');
  is(await page.evaluate(() => document.activeElement.textContent), 'Rétablir Titre à licencier', 'the focus stays on that licence, now offering to resume it');
  is((await json('GET', `/api/v1/titles/${added}`, chloe))[1].availability.copies, 0, 'patrons no longer get copies from it');

  // ---- the usage report and its TSV ----
  await page.getByRole('button', { name: 'Afficher' }).click();
  const usageRow = page.locator('#usage tbody tr').filter({ hasText: 'Titre à licencier' });
  await usageRow.waitFor();
  const col = (c) => usageRow.locator(`[data-col=${c}]`).innerText();
  is(await col('loans'), '1', 'the report counts the loan');
  is(await col('unique_patrons'), '1', 'one patron');
  is(await col('turnaways_no_copy'), '1', 'the patron turned away');
  is(await col('holds_placed'), '1', 'and the hold');
  ok(await usageRow.evaluate((r) => r.classList.contains('hot')), 'a title that turned readers away stands out');
  is(await page.locator('#usage tbody tr').filter({ hasText: "Children's Literature" }).count(), 0,
    'another library\'s loans are not in this library\'s report');
  await axe(page, 'staff with the report');
  await shot(page, 'staff-report');

  const tsvLink = page.getByRole('link', { name: 'Exporter (TSV)' });
  is(await tsvLink.getAttribute('download'), 'usage.tsv', 'the export is a file download');
  const tsv = await page.evaluate((h) => fetch(h).then(async (r) => [r.status, r.headers.get('Content-Type'), await r.text()]),
    await tsvLink.getAttribute('href'));
  is(`${tsv[0]} ${tsv[1]}`, '200 text/tab-separated-values; charset=utf-8', 'the TSV export answers');
  const lines = tsv[2].split('\n').filter((l) => l);
  is(lines[0], 'month\ttitle_id\ttitle\tloans\trenewals\tstreams\tunique_patrons\tturnaways\tturnaways_no_copy\t'
    + 'turnaways_no_licence\tturnaways_limit\tholds_placed', 'the TSV starts with its header');
  const thisMonth = new Date().toISOString().slice(0, 7);
  is(lines.slice(1).join('\n'), `${thisMonth}\t${added}\tTitre à licencier\t1\t0\t0\t1\t1\t1\t0\t0\t1`,
    'and has one row, for the borrowed title, with its numbers (nothing from the other library)');

  // ---- more licences and report rows than a page holds ----
  for (let i = 0; i < 40; i++) {
    const [st] = await json('POST', '/api/v1/admin/licences', admin, { title_id: many, concurrency: 1 + i, library: null });
    if (st !== 201) throw new Error(`licence ${i} answered ${st}`);
  }
  psql(db, `INSERT INTO usage_event (at, type, title_id, consortium_id, library_id, patron_key)
    SELECT date_trunc('month', now()) - make_interval(months => g) + interval '10 days', 'checkout', '${many}',
           '${consortium}', (SELECT id FROM library WHERE code = 'NORD'), gen_random_uuid()
    FROM generate_series(1, 30) g`);
  const all = (await json('GET', '/api/v1/admin/licences?per_page=100', admin))[1];
  is(all.total, 42, 'the library now has 42 licences (a library admin\'s licence is its library\'s even when sent with library null)');
  await page.reload();
  await ready(page);
  await page.locator('#licences tbody tr').first().waitFor();
  const licPager = page.getByRole('navigation', { name: 'Pages des licences' });
  const position = () => licPager.locator('.position').innerText();
  is(await position(), '1–20 sur 42', 'the pager says where we are');
  is(await licPager.locator('.position').getAttribute('aria-live'), 'polite', 'and announces it when it changes');
  is(await page.locator('#licences tbody tr').count(), 20, 'a page holds 20 licences');
  const seen = new Set(await ids());
  await licPager.getByRole('button', { name: 'Page suivante' }).click();
  await page.waitForFunction(() => document.querySelector('[aria-label="Pages des licences"] .position').textContent === '21–40 sur 42');
  ok(true, 'the next page: 21–40 sur 42');
  is(await page.evaluate(() => document.activeElement.textContent), 'Page suivante', 'the focus stays on the button');
  for (const id of await ids()) seen.add(id);
  await licPager.getByRole('button', { name: 'Page suivante' }).click();
  await page.waitForFunction(() => document.querySelector('[aria-label="Pages des licences"] .position').textContent === '41–42 sur 42');
  is(await page.locator('#licences tbody tr').count(), 2, 'the last page holds the last two');
  for (const id of await ids()) seen.add(id);
  is(await licPager.getByRole('button', { name: 'Page suivante' }).getAttribute('aria-disabled'), 'true', 'there is no page after the last');
  // The focus is still on it: Enter from the keyboard, as a keyboard user would.
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
  is(await position(), '41–42 sur 42', 'and pressing it does nothing');
  is(await page.evaluate(() => document.activeElement.textContent), 'Page suivante', 'nor loses the focus');
  is(seen.size, 42, 'the pages together show every licence once');
  ok(all.items.every((l) => seen.has(l.id)), 'the same licences the API lists');
  await axe(page, 'staff, last page of licences');
  await licPager.getByRole('button', { name: 'Page précédente' }).click();
  await page.waitForFunction(() => document.querySelector('[aria-label="Pages des licences"] .position').textContent === '21–40 sur 42');
  ok(true, 'the previous page goes back');

  const reportFrom = new Date();
  reportFrom.setUTCDate(1);
  reportFrom.setUTCMonth(reportFrom.getUTCMonth() - 36);
  await page.getByLabel('Du', { exact: true }).fill(reportFrom.toISOString().slice(0, 7));
  await page.getByRole('button', { name: 'Afficher' }).click();
  const repPager = page.getByRole('navigation', { name: 'Pages du rapport' });
  await repPager.waitFor();
  const repTotal = (await json('GET', `/api/v1/admin/reports/usage?from=${reportFrom.toISOString().slice(0, 10)}`, admin))[1].total;
  is(repTotal, 31, 'the report has 31 rows (a title in 30 past months, and this month\'s)');
  is(await repPager.locator('.position').innerText(), '1–20 sur 31', 'the report is paged too');
  is(await page.locator('#usage tbody tr').count(), 20, 'twenty rows at a time');
  await repPager.getByRole('button', { name: 'Page suivante' }).click();
  await page.waitForFunction(() => document.querySelector('[aria-label="Pages du rapport"] .position').textContent === '21–31 sur 31');
  is(await page.locator('#usage tbody tr').count(), 11, 'the second page holds the rest');
  const p2 = (await json('GET', `/api/v1/admin/reports/usage?from=${reportFrom.toISOString().slice(0, 10)}&page=2&per_page=20`, admin))[1];
  is(`${p2.items.length} ${p2.total}`, '11 31', 'the API pages the report as it pages other lists');
  is((await json('GET', '/api/v1/admin/reports/usage?per_page=101', admin))[0], 400, 'and refuses more than 100 rows a page');
  const fullTsv = await page.evaluate((h) => fetch(h).then((r) => r.text()), await tsvLink.getAttribute('href'));
  is(fullTsv.split('\n').filter((l) => l).length, 32, 'the TSV export is the whole report, not a page');
  await axe(page, 'staff with paged lists');
  await shot(page, 'staff-paging');

  // The title to license is found by a search: the list holds its matches.
  is(await page.locator('#lic-title option').count(), 4, 'every title can be licensed');
  await page.getByLabel('Chercher un titre à licencier').fill('Zzz');
  await page.waitForFunction(() => document.querySelectorAll('#lic-title option').length === 1);
  is(await page.locator('#lic-title option').innerText(), 'Zzz pour les pages', 'a search narrows the titles offered');

  await page.getByRole('button', { name: 'English' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await ready(page);
  await page.locator('#licences tbody tr').first().waitFor();
  is(await page.getByRole('navigation', { name: 'Licence pages' }).locator('.position').innerText(), '1–20 of 42', 'in English too');
  await axe(page, 'staff (English)');
  await page.getByRole('button', { name: 'Français' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'fr');

  ok(problems.length === 0, 'no script error and no Content-Security-Policy violation', problems.join('\n'));
}

await P.run(main);
