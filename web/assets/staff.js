// Staff: licences per title with their live counts and holds waiting, a licence added
// or suspended, a title uploaded, the usage report with its TSV export.
import { get, post, patch, qs, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { t, errorText, formatDate } from './i18n.js';
import { state, navigate } from './app.js';

const month = (d) => d.toISOString().slice(0, 7);

export async function staff() {
  if (!state.me || state.me.type !== 'staff') {
    if (state.me) return navigate('/account', { replace: true });
    return navigate(`/signin${qs({ next: '/staff' })}`, { replace: true });
  }
  const main = document.getElementById('main');
  const [licences, titles, libraries] = await Promise.all([
    get('/api/v1/admin/licences?per_page=100'),
    get('/api/v1/titles?per_page=100'),
    get('/api/v1/admin/libraries?per_page=100').catch(() => ({ items: [] })),
  ]);
  // Holds waiting per title: the title's availability, as its consortium sees it.
  const titleIds = [...new Set(licences.items.map((l) => l.title_id))];
  const avail = new Map(await Promise.all(titleIds.map(async (id) => {
    const x = await get(`/api/v1/titles/${id}`).catch(() => null);
    return [id, x && x.availability ? x.availability : null];
  })));

  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status' });
  const alert = h('div', { role: 'alert', class: 'error-text' });
  const redraw = async (msg) => {
    await staff();
    const s = main.querySelector('.status');
    if (s && msg) s.textContent = msg;
  };
  const fail = (e) => {
    if (e instanceof ApiError && e.status === 401) throw e;
    alert.textContent = errorText(e);
  };

  const count = (v) => (v == null ? t('staff.unlimited') : String(v));
  const table = h('table', { class: 'data', id: 'licences' },
    h('caption', { class: 'visually-hidden' }, t('staff.licences')),
    h('thead', null, h('tr', null, [
      'staff.licence_title', 'staff.licence_library', 'staff.concurrency', 'staff.in_use', 'staff.checkouts',
      'staff.checkouts_left', 'staff.expires', 'staff.state', 'staff.holds_waiting', 'staff.actions',
    ].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, licences.items.map((l) => {
      const a = avail.get(l.title_id);
      return h('tr', { 'data-licence': l.id },
        h('th', { scope: 'row' }, h('a', { href: `/titles/${l.title_id}` }, l.title)),
        h('td', null, l.library || t('staff.all_libraries')),
        h('td', { class: 'num' }, count(l.concurrency)),
        h('td', { class: 'num', 'data-col': 'in_use' }, String(l.in_use)),
        h('td', { class: 'num' }, `${l.checkouts_used} / ${count(l.checkouts)}`),
        h('td', { class: 'num', 'data-col': 'checkouts_left' }, count(l.checkouts_left)),
        h('td', null, l.expires ? formatDate(l.expires) : t('staff.never')),
        h('td', { 'data-col': 'state' }, t(`staff.state.${l.state}`)),
        h('td', { class: 'num', 'data-col': 'holds' }, a ? String(a.holds) : '—'),
        h('td', null, h('button', { type: 'button', class: 'secondary small', onclick: async () => {
          try {
            await patch(`/api/v1/admin/licences/${l.id}`, { suspended: !l.suspended });
            await redraw(t(l.suspended ? 'staff.resumed' : 'staff.suspended'));
          } catch (e) { fail(e); }
        } }, t(l.suspended ? 'staff.resume' : 'staff.suspend'), h('span', { class: 'visually-hidden' }, ` ${l.title}`))));
    })));

  // Add a licence.
  const add = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const f = new FormData(add);
    const num = (k) => (f.get(k) ? Number(f.get(k)) : null);
    const body = {
      title_id: f.get('title_id'), library: f.get('library') || null, concurrency: num('concurrency'),
      checkouts: num('checkouts'), expires: f.get('expires') || null, loan_days: num('loan_days'),
    };
    const titleName = add.querySelector('#lic-title').selectedOptions[0].textContent;
    try {
      await post('/api/v1/admin/licences', body);
      await redraw(t('staff.added', { title: titleName }));
    } catch (e) { fail(e); }
  } },
  h('div', { class: 'field' }, h('label', { for: 'lic-title' }, t('staff.licence_title')),
    h('select', { id: 'lic-title', name: 'title_id', required: true },
      titles.items.map((x) => h('option', { value: x.id }, x.title)))),
  h('div', { class: 'field' }, h('label', { for: 'lic-library' }, t('staff.licence_library')),
    h('select', { id: 'lic-library', name: 'library' },
      state.me.library ? null : h('option', { value: '' }, t('staff.all_libraries')),
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

  // Upload a title.
  const upload = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const f = new FormData(upload);
    for (const k of ['kind', 'title', 'author', 'language']) if (!f.get(k)) f.delete(k);
    const btn = upload.querySelector('button');
    btn.disabled = true;
    status.textContent = t('staff.uploading');
    try {
      const res = await post('/api/v1/admin/titles', f);
      await redraw(t('staff.uploaded', { title: res.title }));
    } catch (e) {
      btn.disabled = false;
      status.textContent = '';
      fail(e);
    }
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

  // Usage report.
  const now = new Date();
  const from = h('input', { id: 'rep-from', name: 'from', type: 'month', value: month(new Date(now.getFullYear(), now.getMonth() - 11, 15)) });
  const to = h('input', { id: 'rep-to', name: 'to', type: 'month', value: month(now) });
  const report = h('div', { class: 'report' });
  const tsv = h('a', { class: 'button secondary', download: 'usage.tsv' }, t('staff.tsv'));
  const range = () => {
    const f = from.value ? `${from.value}-01` : '';
    let end = '';
    if (to.value) {
      const [y, m] = to.value.split('-').map(Number);
      end = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
    }
    return { from: f, to: end };
  };
  const showReport = async () => {
    const r = range();
    tsv.href = `/api/v1/admin/reports/usage${qs({ ...r, format: 'tsv' })}`;
    try {
      const data = await get(`/api/v1/admin/reports/usage${qs({ ...r, format: 'json' })}`);
      const cols = [['month', 'staff.month'], ['loans', 'staff.loans'], ['renewals', 'staff.renewals'],
        ['streams', 'staff.streams'], ['unique_patrons', 'staff.patrons'], ['turnaways_no_copy', 'staff.turnaways'],
        ['holds_placed', 'staff.holds_placed']];
      clear(report, data.items.length ? h('table', { class: 'data' },
        h('caption', { class: 'visually-hidden' }, t('staff.report')),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('staff.licence_title')),
          cols.map(([, k]) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, data.items.map((row) => h('tr', { class: row.turnaways_no_copy > 0 ? 'hot' : null },
          h('th', { scope: 'row' }, row.title), cols.map(([c]) => h('td', { class: c === 'month' ? null : 'num' }, String(row[c])))))))
        : h('p', null, t('staff.report_none')));
    } catch (e) { fail(e); }
  };
  const reportForm = h('form', { class: 'inline-form', onsubmit: (ev) => { ev.preventDefault(); showReport(); } },
    h('label', { for: 'rep-from' }, t('staff.from')), from,
    h('label', { for: 'rep-to' }, t('staff.to')), to,
    h('button', { type: 'submit' }, t('staff.show')), tsv);

  clear(main,
    h('h1', null, t('staff.title')),
    h('p', { class: 'lead' }, state.me.library ? state.me.library.name : state.me.consortium.name),
    status, alert,
    h('section', { 'aria-labelledby': 'lic-h' },
      h('h2', { id: 'lic-h' }, t('staff.licences')),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'lic-h' }, table)),
    h('section', { 'aria-labelledby': 'add-h' }, h('h2', { id: 'add-h' }, t('staff.add')), add),
    h('section', { 'aria-labelledby': 'up-h' }, h('h2', { id: 'up-h' }, t('staff.upload')), upload),
    h('section', { 'aria-labelledby': 'rep-h' },
      h('h2', { id: 'rep-h' }, t('staff.report')),
      h('p', { class: 'hint' }, t('staff.turnaway_hint')),
      reportForm,
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'rep-h' }, report)));
  await showReport();
}
