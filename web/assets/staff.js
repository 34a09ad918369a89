// Staff: licences per title with their live counts and holds waiting, a licence added
// or suspended, a title uploaded, the usage report with its TSV export. Lists are read
// a page at a time, as the API gives them ({items, total}), with a pager that says
// where the reader is ("21–40 of 134").
//
// What is shown follows what the server allows: a library admin sees and changes only
// its own library's licences and usage (the network's shared licences are not in its
// answers), and adds licences only for its library.
import { get, post, patch, qs, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { t, errorText, formatDate } from './i18n.js';
import { state, navigate, onLeave } from './app.js';

const PER_PAGE = 20;
// Counts move as patrons borrow: the visible page is read again this often.
const REFRESH_MS = 30000;

const month = (d) => d.toISOString().slice(0, 7);

// A patron who comes here is told plainly that this page is for staff.
function denied(main) {
  clear(main,
    h('h1', null, t('staff.denied_title')),
    h('p', null, t('staff.denied_text')),
    h('ul', null,
      h('li', null, h('a', { href: '/account' }, t('staff.denied_account'))),
      h('li', null, h('a', { href: '/search' }, t('staff.denied_catalogue')))));
}

// Previous/next buttons and the position, announced politely when it changes. The
// buttons stay focusable at the ends (aria-disabled), so the focus is never lost.
function pager(label, go) {
  let page = 1;
  let pages = 1;
  const position = h('p', { class: 'position', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const button = (key, rel, delta) => h('button', { type: 'button', class: 'secondary small', 'data-rel': rel,
    onclick: (ev) => {
      if (ev.currentTarget.getAttribute('aria-disabled') === 'true') return;
      go(page + delta);
    } }, t(key));
  const prev = button('staff.prev', 'prev', -1);
  const next = button('staff.next', 'next', 1);
  const nav = h('nav', { class: 'pager staff-pager', 'aria-label': label, hidden: true }, prev, position, next);
  return {
    nav,
    show(p, total) {
      page = p;
      pages = Math.max(1, Math.ceil(total / PER_PAGE));
      nav.hidden = pages <= 1;
      const from = total ? (p - 1) * PER_PAGE + 1 : 0;
      const to = Math.min(total, p * PER_PAGE);
      position.textContent = t('staff.position', { from, to, total });
      prev.setAttribute('aria-disabled', String(p <= 1));
      next.setAttribute('aria-disabled', String(p >= pages));
    },
  };
}

export async function staff() {
  const main = document.getElementById('main');
  if (!state.me) return navigate(`/signin${qs({ next: '/staff' })}`, { replace: true });
  if (state.me.type !== 'staff') return denied(main);
  const libraryAdmin = state.me.role === 'library_admin';

  const [titles, libraries] = await Promise.all([
    get('/api/v1/titles?per_page=100'),
    get('/api/v1/admin/libraries?per_page=100').catch(() => ({ items: [] })),
  ]);

  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status' });
  const alert = h('div', { role: 'alert', class: 'error-text' });
  const say = (msg) => { alert.textContent = ''; status.textContent = msg; };
  const fail = (e) => {
    if (e instanceof ApiError && e.status === 401) {
      navigate(`/signin${qs({ next: '/staff' })}`, { replace: true });
      return;
    }
    status.textContent = '';
    alert.textContent = errorText(e);
  };

  // ---- licences, a page at a time ----
  const count = (v) => (v == null ? t('staff.unlimited') : String(v));
  const tbody = h('tbody');
  const empty = h('p', { class: 'note', hidden: true }, t('staff.licences_none'));
  let licPage = 1;
  const licPager = pager(t('staff.licence_pages'), (p) => showLicences(p).catch(fail));

  const row = (l, holds) => h('tr', { 'data-licence': l.id },
    h('th', { scope: 'row' }, h('a', { href: `/titles/${l.title_id}` }, l.title)),
    libraryAdmin ? null : h('td', null, l.library || t('staff.all_libraries')),
    h('td', { class: 'num' }, count(l.concurrency)),
    h('td', { class: 'num', 'data-col': 'in_use' }, String(l.in_use)),
    h('td', { class: 'num' }, `${l.checkouts_used} / ${count(l.checkouts)}`),
    h('td', { class: 'num', 'data-col': 'checkouts_left' }, count(l.checkouts_left)),
    h('td', { 'data-col': 'expires' }, l.expires ? formatDate(l.expires) : t('staff.never')),
    h('td', { 'data-col': 'state' }, t(`staff.state.${l.state}`)),
    h('td', { class: 'num', 'data-col': 'holds' }, holds == null ? '—' : String(holds)),
    h('td', null, h('button', { type: 'button', class: 'secondary small', 'data-action': 'suspend', onclick: async () => {
      try {
        await patch(`/api/v1/admin/licences/${l.id}`, { suspended: !l.suspended });
        await showLicences(licPage);
        say(t(l.suspended ? 'staff.resumed' : 'staff.suspended'));
      } catch (e) { fail(e); }
    } }, t(l.suspended ? 'staff.resume' : 'staff.suspend'), h('span', { class: 'visually-hidden' }, ` ${l.title}`))));

  // Reads page p and draws it; the focus stays on the same licence's button if it was there.
  // Only the latest call draws: a timed refresh never overwrites the page just asked for.
  let licTicket = 0;
  async function showLicences(p) {
    const ticket = ++licTicket;
    let res = await get(`/api/v1/admin/licences${qs({ page: p, per_page: PER_PAGE })}`);
    if (!res.items.length && p > 1) {
      p = 1;
      res = await get(`/api/v1/admin/licences${qs({ page: 1, per_page: PER_PAGE })}`);
    }
    // Holds waiting per title: the title's availability, as this account sees it.
    const ids = [...new Set(res.items.map((l) => l.title_id))];
    const holds = new Map(await Promise.all(ids.map(async (id) => {
      const x = await get(`/api/v1/titles/${id}`).catch(() => null);
      return [id, x && x.availability ? x.availability.holds : null];
    })));
    if (ticket !== licTicket) return;
    const focused = document.activeElement && tbody.contains(document.activeElement)
      ? document.activeElement.closest('tr').dataset.licence : null;
    clear(tbody, res.items.map((l) => row(l, holds.get(l.title_id))));
    empty.hidden = res.total > 0;
    licPage = p;
    licPager.show(p, res.total);
    if (focused) {
      const again = tbody.querySelector(`tr[data-licence="${focused}"] button`);
      if (again) again.focus();
    }
  }

  const table = h('table', { class: 'data', id: 'licences' },
    h('caption', { class: 'visually-hidden' }, t('staff.licences')),
    // A library admin's licences are all its library's: no column to say so.
    h('thead', null, h('tr', null, [
      'staff.licence_title', libraryAdmin ? null : 'staff.licence_library', 'staff.concurrency', 'staff.in_use',
      'staff.checkouts', 'staff.checkouts_left', 'staff.expires', 'staff.state', 'staff.holds_waiting', 'staff.actions',
    ].filter(Boolean).map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody);
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      await showLicences(licPage);
      say(t('staff.refreshed'));
    } catch (e) { fail(e); }
  } }, t('staff.refresh'));
  const timer = setInterval(() => {
    if (!document.hidden) showLicences(licPage).catch(() => { /* the next tick or the button tries again */ });
  }, REFRESH_MS);
  onLeave(() => clearInterval(timer));

  // ---- add a licence ----
  const titleSel = h('select', { id: 'lic-title', name: 'title_id', required: true, 'aria-describedby': 'lic-title-note' });
  const titleNote = h('p', { class: 'hint', id: 'lic-title-note', 'aria-live': 'polite' });
  const fillTitles = (res) => {
    clear(titleSel, res.items.map((x) => h('option', { value: x.id }, x.title)));
    titleNote.textContent = res.total > res.items.length
      ? t('staff.titles_more', { shown: res.items.length, total: res.total })
      : '';
  };
  fillTitles(titles);
  let findTimer = 0;
  const titleFind = h('input', { id: 'lic-find', type: 'search', autocomplete: 'off', oninput: () => {
    clearTimeout(findTimer);
    findTimer = setTimeout(async () => {
      try {
        fillTitles(await get(`/api/v1/titles${qs({ q: titleFind.value.trim(), per_page: 100 })}`));
      } catch (e) { fail(e); }
    }, 300);
  } });

  const add = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const f = new FormData(add);
    const num = (k) => (f.get(k) ? Number(f.get(k)) : null);
    const body = {
      title_id: f.get('title_id'), library: f.get('library') || null, concurrency: num('concurrency'),
      checkouts: num('checkouts'), expires: f.get('expires') || null, loan_days: num('loan_days'),
    };
    const chosen = titleSel.selectedOptions[0];
    const titleName = chosen ? chosen.textContent : '';
    try {
      await post('/api/v1/admin/licences', body);
      await showLicences(licPage);
      say(t('staff.added', { title: titleName }));
    } catch (e) { fail(e); }
  } },
  h('div', { class: 'field' }, h('label', { for: 'lic-find' }, t('staff.find_title')), titleFind),
  h('div', { class: 'field' }, h('label', { for: 'lic-title' }, t('staff.licence_title')), titleSel, titleNote),
  h('div', { class: 'field' }, h('label', { for: 'lic-library' }, t('staff.licence_library')),
    h('select', { id: 'lic-library', name: 'library' },
      libraryAdmin ? null : h('option', { value: '' }, t('staff.all_libraries')),
      libraries.items.map((x) => h('option', { value: x.code }, `${x.name} (${x.code})`)))),
  h('div', { class: 'field' }, h('label', { for: 'lic-concurrency' }, t('staff.concurrency')),
    h('input', { id: 'lic-concurrency', name: 'concurrency', type: 'number', min: 1, value: 1, required: true })),
  h('div', { class: 'field' }, h('label', { for: 'lic-checkouts' }, `${t('staff.checkouts')} (${t('staff.optional')})`),
    h('input', { id: 'lic-checkouts', name: 'checkouts', type: 'number', min: 1 })),
  h('div', { class: 'field' }, h('label', { for: 'lic-expires' }, `${t('staff.expires')} (${t('staff.optional')})`),
    h('input', { id: 'lic-expires', name: 'expires', type: 'date' })),
  h('div', { class: 'field' }, h('label', { for: 'lic-days' }, `${t('staff.loan_days')} (${t('staff.optional')})`),
    h('input', { id: 'lic-days', name: 'loan_days', type: 'number', min: 1, max: 366 })),
  h('div', { class: 'field submit' }, h('button', { type: 'submit' }, t('staff.add'))));

  // ---- upload a title ----
  const upload = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const f = new FormData(upload);
    for (const k of ['kind', 'title', 'author', 'language']) if (!f.get(k)) f.delete(k);
    const btn = upload.querySelector('button');
    btn.disabled = true;
    say(t('staff.uploading'));
    try {
      const res = await post('/api/v1/admin/titles', f);
      fillTitles(await get(`/api/v1/titles${qs({ q: titleFind.value.trim(), per_page: 100 })}`));
      upload.reset();
      say(t('staff.uploaded', { title: res.title }));
    } catch (e) {
      fail(e);
    }
    btn.disabled = false;
  } },
  h('div', { class: 'field wide' }, h('label', { for: 'up-file' }, t('staff.file')),
    h('input', { id: 'up-file', name: 'file', type: 'file', required: true,
      accept: '.epub,application/epub+zip,audio/*,video/*' })),
  h('div', { class: 'field' }, h('label', { for: 'up-kind' }, t('search.kind')),
    h('select', { id: 'up-kind', name: 'kind' }, h('option', { value: '' }, t('staff.kind_auto')),
      ['ebook', 'audio', 'video'].map((k) => h('option', { value: k }, t(`kind.${k}`))))),
  h('div', { class: 'field' }, h('label', { for: 'up-title' }, t('staff.meta_title')), h('input', { id: 'up-title', name: 'title' })),
  h('div', { class: 'field' }, h('label', { for: 'up-author' }, t('staff.meta_author')), h('input', { id: 'up-author', name: 'author' })),
  h('div', { class: 'field' }, h('label', { for: 'up-language' }, t('staff.meta_language')),
    h('input', { id: 'up-language', name: 'language', maxlength: 8 })),
  h('div', { class: 'field submit' }, h('button', { type: 'submit' }, t('staff.send'))));

  // ---- usage report, a page at a time; the TSV export is the whole period ----
  const now = new Date();
  const from = h('input', { id: 'rep-from', name: 'from', type: 'month', value: month(new Date(now.getFullYear(), now.getMonth() - 11, 15)) });
  const to = h('input', { id: 'rep-to', name: 'to', type: 'month', value: month(now) });
  const report = h('div', { class: 'report' });
  const tsv = h('a', { class: 'button secondary', download: 'usage.tsv' }, t('staff.tsv'));
  const repPager = pager(t('staff.report_pages'), (p) => showReport(p));
  const range = () => {
    const f = from.value ? `${from.value}-01` : '';
    let end = '';
    if (to.value) {
      const [y, m] = to.value.split('-').map(Number);
      end = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
    }
    return { from: f, to: end };
  };
  const cols = [['month', 'staff.month'], ['loans', 'staff.loans'], ['renewals', 'staff.renewals'],
    ['streams', 'staff.streams'], ['unique_patrons', 'staff.patrons'], ['turnaways_no_copy', 'staff.turnaways'],
    ['holds_placed', 'staff.holds_placed']];
  let repTicket = 0;
  async function showReport(p = 1) {
    const ticket = ++repTicket;
    const r = range();
    tsv.href = `/api/v1/admin/reports/usage${qs({ ...r, format: 'tsv' })}`;
    try {
      const data = await get(`/api/v1/admin/reports/usage${qs({ ...r, format: 'json', page: p, per_page: PER_PAGE })}`);
      if (ticket !== repTicket) return;
      if (!data.items.length && p > 1) return showReport(1);
      clear(report, data.items.length ? h('table', { class: 'data', id: 'usage' },
        h('caption', { class: 'visually-hidden' }, t('staff.report')),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('staff.licence_title')),
          cols.map(([, k]) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, data.items.map((row) => h('tr', { class: row.turnaways_no_copy > 0 ? 'hot' : null },
          h('th', { scope: 'row' }, row.title),
          cols.map(([c]) => h('td', { class: c === 'month' ? null : 'num', 'data-col': c }, String(row[c])))))))
        : h('p', null, t('staff.report_none')));
      repPager.show(p, data.total);
    } catch (e) { fail(e); }
  }
  const reportForm = h('form', { class: 'inline-form', onsubmit: (ev) => { ev.preventDefault(); showReport(1); } },
    h('label', { for: 'rep-from' }, t('staff.from')), from,
    h('label', { for: 'rep-to' }, t('staff.to')), to,
    h('button', { type: 'submit' }, t('staff.show')), tsv);

  clear(main,
    h('h1', null, t('staff.title')),
    h('p', { class: 'lead' }, state.me.library ? state.me.library.name : state.me.consortium.name),
    status, alert,
    h('section', { 'aria-labelledby': 'lic-h' },
      h('h2', { id: 'lic-h' }, t('staff.licences')),
      libraryAdmin ? h('p', { class: 'hint' }, t('staff.library_scope', { library: state.me.library.name })) : null,
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'lic-h' }, table),
      empty,
      h('div', { class: 'table-foot' }, licPager.nav, refresh)),
    h('section', { 'aria-labelledby': 'add-h' }, h('h2', { id: 'add-h' }, t('staff.add')), add),
    h('section', { 'aria-labelledby': 'up-h' }, h('h2', { id: 'up-h' }, t('staff.upload')), upload),
    h('section', { 'aria-labelledby': 'rep-h' },
      h('h2', { id: 'rep-h' }, t('staff.report')),
      h('p', { class: 'hint' }, t('staff.turnaway_hint')),
      reportForm,
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'rep-h' }, report),
      repPager.nav));
  await Promise.all([showLicences(1), showReport(1)]);
}
