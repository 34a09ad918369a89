// The portal: a small router over the History API and one function per page. Pages are
// drawn from the HTTP API; every string comes from i18n.js.
import { api, get, post, del, qs, ApiError } from './api.js';
import { h, clear, announce } from './dom.js';
import { t, lang, setLang, initLang, errorText, formatDate, formatDuration, languageName } from './i18n.js';

export const state = { me: null };
const main = () => document.getElementById('main');
const KINDS = ['ebook', 'audio', 'video'];
const LANGUAGES = ['fr', 'en', 'de', 'es', 'it'];

// ---- routing ----

const routes = [
  [/^\/$/, home],
  [/^\/search$/, search],
  [/^\/titles\/([^/]+)$/, titlePage],
  [/^\/signin$/, signin],
  [/^\/account$/, account],
  [/^\/read\/([^/]+)$/, (id) => import('./reader.js').then((m) => m.reader(id))],
  [/^\/play\/([^/]+)$/, (id) => import('./player.js').then((m) => m.player(id))],
  [/^\/staff$/, () => import('./staff.js').then((m) => m.staff())],
];

let firstRender = true;
let leaving = [];

// Pages with timers or players register what to stop when the page changes.
export function onLeave(fn) { leaving.push(fn); }

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

async function render() {
  for (const fn of leaving.splice(0)) {
    try { fn(); } catch { /* the page is gone anyway */ }
  }
  const path = location.pathname;
  // Busy while the page is drawn: assistive technologies wait, and so do the tests.
  main().setAttribute('aria-busy', 'true');
  updateNav();
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (!m) continue;
    try {
      await view(...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      showError(e);
    }
    afterRender();
    return;
  }
  notFound();
  afterRender();
}

function afterRender() {
  main().setAttribute('aria-busy', 'false');
  performance.mark('pretnum:drawn');
  const h1 = main().querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'Pretnum'} — Pretnum`;
  // Moving focus to the new page's heading tells screen readers the page changed.
  if (!firstRender && h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus();
  }
  firstRender = false;
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) {
    state.me = null;
    updateNav();
    navigate(`/signin${qs({ next: location.pathname + location.search })}`, { replace: true });
    return;
  }
  clear(main(), h('h1', null, t('err.generic', { message: '' }).replace(/[:\s]+$/, '')),
    h('p', { role: 'alert' }, e instanceof ApiError ? errorText(e) : String(e.message || e)));
}

function notFound() {
  clear(main(), h('h1', null, t('notfound.title')), h('p', null, t('notfound.text')),
    h('p', null, h('a', { href: '/', 'data-nav': true }, t('notfound.home'))));
}

// Same-origin links to the app's pages are followed without reloading.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (!routes.some(([re]) => re.test(url.pathname))) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

// ---- chrome: header, nav, language ----

function updateNav() {
  document.getElementById('skip').textContent = t('skip');
  document.getElementById('tagline').textContent = t('site.tagline');
  document.getElementById('footer-text').textContent = t('site.footer');
  const langBtn = document.getElementById('lang');
  langBtn.textContent = t('lang.switch');
  langBtn.lang = t('lang.code');
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav.label'));
  const items = [[t('nav.catalogue'), '/search']];
  if (!state.me) items.push([t('nav.signin'), '/signin']);
  else if (state.me.type === 'patron') items.push([t('nav.account'), '/account']);
  else items.push([t('nav.staff'), '/staff']);
  const here = location.pathname;
  const ul = h('ul', null, items.map(([label, href]) =>
    h('li', null, h('a', { href, 'aria-current': here === href ? 'page' : null }, label))));
  if (state.me) {
    ul.append(h('li', null, h('button', { type: 'button', class: 'linklike', onclick: signOut }, t('nav.signout'))));
  }
  clear(nav, ul);
}

async function signOut() {
  try { await del('/api/v1/session'); } catch { /* gone already */ }
  state.me = null;
  navigate('/');
  announce(t('signout.done'));
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'fr' ? 'en' : 'fr');
  render();
});

// ---- shared pieces ----

const colon = () => (lang() === 'fr' ? '\u00a0: ' : ': ');

export function kindLabel(kind) { return t(`kind.${kind}`); }

function availabilityText(title) {
  const a = title.availability;
  if (!a) return null;
  if (!a.copies) return t('avail.none');
  const parts = [t('avail.of', a.available, a.copies)];
  if (a.holds) parts.push(t('avail.waiting', a.holds));
  return parts.join(' · ');
}

function creators(title) {
  return (title.authors || []).join(', ');
}

// The server makes WebP thumbnails at these widths: the browser picks by the room the
// cover has and the screen's density, instead of loading the publisher's full picture.
const THUMBS = [160, 240, 320, 480];
export function coverSources(url, sizes) {
  const q = url.includes('?') ? '&' : '?';
  return { src: `${url}${q}w=320`, srcset: THUMBS.map((w) => `${url}${q}w=${w} ${w}w`).join(', '), sizes };
}

function cover(title, cls = 'cover') {
  if (!title.cover) return h('div', { class: `${cls} placeholder`, 'aria-hidden': 'true' }, kindLabel(title.kind));
  const sizes = cls.includes('large') ? '(max-width: 44rem) 10rem, 14rem' : '(max-width: 44rem) 9rem, 12rem';
  return h('img', { class: cls, ...coverSources(title.cover, sizes), alt: t('title.cover', { title: title.title }),
    loading: 'lazy', width: 160, height: 240 });
}

function card(title, level = 'h3') {
  const avail = availabilityText(title);
  const free = title.availability && title.availability.available > 0;
  return h('li', { class: 'card' },
    cover(title),
    h('div', { class: 'card-body' },
      h(level, { class: 'card-title' }, h('a', { href: `/titles/${title.id}` }, title.title)),
      creators(title) ? h('p', { class: 'creators' }, creators(title)) : null,
      h('p', { class: `kind kind-${title.kind}` }, kindLabel(title.kind)),
      avail ? h('p', { class: `avail${free ? ' free' : ''}` }, avail) : null));
}

function searchForm(q = '') {
  return h('form', { role: 'search', action: '/search', method: 'get', class: 'searchform', onsubmit: onSearchSubmit },
    h('label', { for: 'q' }, t('search.label')),
    h('div', { class: 'searchrow' },
      h('input', { type: 'search', id: 'q', name: 'q', value: q, autocomplete: 'off', spellcheck: 'false' }),
      h('button', { type: 'submit' }, t('search.button'))));
}

function onSearchSubmit(ev) {
  ev.preventDefault();
  const form = ev.target.closest('form');
  const params = new URLSearchParams(new FormData(form));
  for (const [k, v] of [...params]) if (!v) params.delete(k);
  params.delete('page');
  const s = params.toString();
  navigate(`/search${s ? `?${s}` : ''}`);
}

// ---- pages ----

async function home() {
  const lists = await Promise.all(KINDS.map((k) => get(`/api/v1/titles${qs({ kind: k, per_page: 6 })}`)));
  clear(main(),
    h('h1', null, t('home.title')),
    h('p', { class: 'lead' }, t('home.intro')),
    searchForm(),
    state.me ? null : h('p', { class: 'note' }, h('a', { href: '/signin' }, t('avail.signin'))),
    KINDS.map((k, i) => h('section', { 'aria-labelledby': `new-${k}` },
      h('h2', { id: `new-${k}` }, t('home.new', { kind: t(`kinds.${k}`) })),
      lists[i].items.length
        ? h('ul', { class: 'cards' }, lists[i].items.map((x) => card(x)))
        : h('p', null, t('home.none')),
      h('p', { class: 'more' }, h('a', { href: `/search?kind=${k}` }, t('home.more', { kind: t(`kinds.${k}`) }))))));
}

async function search() {
  const p = new URLSearchParams(location.search);
  const q = p.get('q') || '', kind = p.get('kind') || '', language = p.get('language') || '';
  const available = p.get('available') === 'true';
  const page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
  const perPage = 20;
  const res = await get(`/api/v1/titles${qs({ q, kind, language, available: available ? 'true' : '', page, per_page: perPage })}`);
  const pages = Math.max(1, Math.ceil(res.total / perPage));
  const link = (n) => {
    const u = new URLSearchParams(location.search);
    u.set('page', n);
    return `/search?${u}`;
  };
  const form = searchForm(q);
  const facets = h('fieldset', { class: 'facets' },
    h('legend', null, t('search.facets')),
    h('fieldset', { class: 'kinds' },
      h('legend', null, t('search.kind')),
      ['', ...KINDS].map((k) => h('label', { class: 'radio' },
        h('input', { type: 'radio', name: 'kind', value: k, checked: k === kind, onchange: onSearchSubmit }),
        ' ', k ? t(`kinds.${k}`) : t('kinds.all')))),
    h('div', { class: 'field' },
      h('label', { for: 'language' }, t('search.language')),
      h('select', { id: 'language', name: 'language', onchange: onSearchSubmit },
        h('option', { value: '' }, t('language.any')),
        LANGUAGES.map((l) => h('option', { value: l, selected: l === language }, languageName(l))))),
    h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'available', value: 'true', checked: available, onchange: onSearchSubmit }),
      ' ', t('search.available')));
  form.append(facets);
  const notes = [];
  if (res.match === 'similar' && res.total) notes.push(h('p', { class: 'note' }, t('search.similar')));
  if (res.total_capped) notes.push(h('p', { class: 'note' }, t('search.capped')));
  clear(main(),
    h('h1', null, q ? t('search.results_for', { q }) : t('search.title')),
    h('div', { class: 'search-layout' },
      form,
      h('section', { class: 'results', 'aria-labelledby': 'results-count' },
        h('h2', { id: 'results-count', class: 'count' }, t('search.count', res.total)),
        state.me ? null : h('p', { class: 'note' }, h('a', { href: `/signin${qs({ next: location.pathname + location.search })}` }, t('avail.signin'))),
        notes,
        res.items.length ? h('ul', { class: 'cards' }, res.items.map((x) => card(x))) : null,
        pages > 1 ? h('nav', { class: 'pager', 'aria-label': t('search.pages') },
          page > 1 ? h('a', { href: link(page - 1), rel: 'prev' }, t('search.prev')) : null,
          h('span', null, t('search.page', { page, pages })),
          page < pages ? h('a', { href: link(page + 1), rel: 'next' }, t('search.next')) : null) : null)));
  announce(t('search.count', res.total));
}

// The patron's loans and holds, to show what they already have on a title.
async function patronState() {
  if (!state.me || state.me.type !== 'patron') return { loans: [], holds: [] };
  const [loans, holds] = await Promise.all([get('/api/v1/loans?per_page=100'), get('/api/v1/holds?per_page=100')]);
  return { loans: loans.items, holds: holds.items.filter((x) => x.state === 'waiting' || x.state === 'ready') };
}

export function openLink(loan) {
  if (loan.kind === 'ebook' && loan.links && loan.links.read) return [t('account.read'), `/read/${loan.id}`];
  if (loan.links && loan.links.stream) return [t(loan.kind === 'audio' ? 'account.listen' : 'account.watch'), `/play/${loan.id}`];
  return null;
}

async function titlePage(id) {
  let title;
  try {
    title = await get(`/api/v1/titles/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
      clear(main(), h('h1', null, t('notfound.title')), h('p', null, t('title.notfound')));
      return;
    }
    throw e;
  }
  const mine = await patronState();
  const details = [
    [t('title.kind'), kindLabel(title.kind)],
    [t('title.language'), languageName(title.language)],
    [t('title.publisher'), title.publisher],
    [t('title.published'), title.published],
    [t('title.duration'), title.duration_s ? formatDuration(title.duration_s) : null],
    [t('title.isbn'), title.isbn],
    [t('title.subjects'), (title.subjects || []).join(', ')],
  ].filter(([, v]) => v);
  const features = (title.accessibility || []).map((f) => t(`a11y.${f}`));
  const hazards = (title.accessibility_hazards || []).map((f) => t(`a11y.${f}`));
  const actions = h('div', { class: 'actions' });
  const status = h('div', { role: 'status', class: 'status', 'aria-live': 'polite' });
  const alert = h('div', { role: 'alert', class: 'error-text' });
  const avail = availabilityText(title);
  clear(main(),
    h('article', { class: 'title-page', lang: title.language || null },
      h('div', { class: 'title-cover' }, cover(title, 'cover large')),
      h('div', { class: 'title-main' },
        h('h1', null, title.title),
        creators(title) ? h('p', { class: 'creators' }, `${t('title.by')} ${creators(title)}`) : null,
        h('p', { class: `kind kind-${title.kind}` }, kindLabel(title.kind)),
        avail ? h('p', { class: 'avail' }, avail) : null,
        h('section', { class: 'borrow', 'aria-label': t('title.borrow'), lang: lang() }, actions, status, alert),
        title.description ? h('p', { class: 'description' }, title.description) : null,
        h('section', { 'aria-labelledby': 'details-h', lang: lang() },
          h('h2', { id: 'details-h' }, t('title.details')),
          h('dl', { class: 'details' }, details.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))),
        h('section', { 'aria-labelledby': 'a11y-h', lang: lang() },
          h('h2', { id: 'a11y-h' }, t('title.a11y')),
          title.accessibility_summary ? h('p', { lang: title.language || null }, title.accessibility_summary) : null,
          features.length ? h('p', null, t('title.a11y_features'), colon(), features.join(', ')) : null,
          hazards.length ? h('p', null, t('title.a11y_hazards'), colon(), hazards.join(', ')) : null,
          !title.accessibility_summary && !features.length ? h('p', null, t('title.a11y_none')) : null))));
  drawActions(title, mine, actions, status, alert);
}

function drawActions(title, mine, actions, status, alert) {
  clear(actions);
  const loan = mine.loans.find((l) => l.title_id === title.id && l.state === 'active');
  const hold = mine.holds.find((x) => x.title_id === title.id);
  if (!state.me) {
    actions.append(h('p', null, h('a', { class: 'button', href: `/signin${qs({ next: location.pathname })}` }, t('title.signin_to_borrow'))));
    return;
  }
  if (state.me.type !== 'patron') {
    actions.append(h('p', null, t('title.staff_note')));
    return;
  }
  if (loan) {
    const open = openLink(loan);
    actions.append(h('p', null, t('title.borrowed', { due: formatDate(loan.due) })),
      open ? h('p', null, h('a', { class: 'button', href: open[1] }, open[0])) : null);
    return;
  }
  if (hold && hold.state === 'waiting') {
    const wait = hold.estimated_wait_days ? t('title.wait', { days: hold.estimated_wait_days }) : '';
    actions.append(h('p', null, t('title.on_hold', { pos: hold.position, wait })));
    return;
  }
  const a = title.availability;
  const canBorrow = (a && a.available > 0) || (hold && hold.state === 'ready');
  if (hold && hold.state === 'ready') actions.append(h('p', null, t('title.hold_ready', { until: formatDate(hold.ready_until, true) })));
  if (canBorrow) {
    const policy = state.me.policy || { loan_days: [14], default_loan_days: 14 };
    const form = h('form', { class: 'inline-form', onsubmit: async (ev) => {
      ev.preventDefault();
      const btn = form.querySelector('button');
      btn.disabled = true;
      alert.textContent = '';
      try {
        const days = Number(form.querySelector('select').value);
        const res = await post('/api/v1/loans', { title_id: title.id, days }, { idempotencyKey: crypto.randomUUID() });
        status.textContent = t('title.loaned', { due: formatDate(res.loan.due) });
        mine.loans.push(res.loan);
        drawActions(title, mine, actions, status, alert);
        actions.querySelector('a, button')?.focus(); // Read, Listen or Watch
      } catch (e) {
        btn.disabled = false;
        alert.textContent = errorText(e);
        if (e.code === 'no_copy_available') {
          title.availability = { ...(title.availability || {}), available: 0 };
          drawActions(title, mine, actions, status, alert);
        }
      }
    } },
    h('label', { for: 'days' }, t('title.loan_length')),
    h('select', { id: 'days', name: 'days' }, policy.loan_days.map((d) =>
      h('option', { value: d, selected: d === policy.default_loan_days }, t('title.days', d)))),
    h('button', { type: 'submit' }, t('title.borrow')));
    actions.append(form);
    return;
  }
  if (a && a.copies > 0) {
    actions.append(h('p', null, t('title.hold_intro')),
      h('button', { type: 'button', onclick: async (ev) => {
        ev.target.disabled = true;
        alert.textContent = '';
        try {
          const res = await post('/api/v1/holds', { title_id: title.id }, { idempotencyKey: crypto.randomUUID() });
          status.textContent = t('title.held', { pos: res.hold.position });
          mine.holds.push(res.hold);
          drawActions(title, mine, actions, status, alert);
          status.setAttribute('tabindex', '-1');
          status.focus();
        } catch (e) {
          ev.target.disabled = false;
          alert.textContent = errorText(e);
        }
      } }, t('title.hold')));
  }
}

async function signin() {
  const next = new URLSearchParams(location.search).get('next');
  const safeNext = next && /^\/(?![/\\])/.test(next) ? next : null; // this site only
  let savedLib = '';
  try { savedLib = localStorage.getItem('pretnum.library') || ''; } catch { /* private mode */ }

  const field = (id, label, attrs, hint) => h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
    h('input', { id, name: id, required: true, 'aria-describedby': hint ? `${id}-hint` : null, ...attrs }));

  const makeForm = (fields, toBody) => {
    const summary = h('div', { class: 'error-summary', role: 'alert', tabindex: '-1', hidden: true });
    const form = h('form', { novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      summary.hidden = true;
      let bad = null;
      for (const [id, label] of fields) {
        const input = form.querySelector(`#${id}`);
        const err = form.querySelector(`#${id}-error`);
        const empty = !input.value.trim();
        input.setAttribute('aria-invalid', empty ? 'true' : 'false');
        err.hidden = !empty;
        err.textContent = empty ? t('signin.required', { field: label }) : '';
        const described = [input.id + '-error', form.querySelector(`#${id}-hint`) ? `${id}-hint` : null].filter(Boolean);
        input.setAttribute('aria-describedby', empty ? described.join(' ') : described.slice(1).join(' ') || '');
        if (empty && !bad) bad = input;
      }
      if (bad) { bad.focus(); return; }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const body = toBody(form);
        const res = await post('/api/v1/session', body);
        if (body.library) try { localStorage.setItem('pretnum.library', body.library); } catch { /* private mode */ }
        state.me = await get('/api/v1/me').catch(() => res.account);
        announce(t('signin.done'));
        navigate(safeNext || (state.me.type === 'patron' ? '/account' : '/staff'), { replace: true });
      } catch (e) {
        btn.disabled = false;
        let msg;
        if (e.code === 'bad_credentials') msg = t('signin.bad_credentials');
        else if (e.code === 'too_many_attempts') msg = t('signin.throttled', { n: Math.max(1, Math.ceil((e.retryAfter || 60) / 60)) });
        else msg = errorText(e);
        clear(summary, h('h2', null, t('signin.errors')), h('p', null, msg));
        summary.hidden = false;
        summary.focus();
      }
    } }, summary);
    return form;
  };

  const patronFields = [['library', t('signin.library')], ['card', t('signin.card')], ['password', t('signin.password')]];
  const patron = makeForm(patronFields, (f) => ({
    library: f.querySelector('#library').value.trim().toUpperCase(),
    card: f.querySelector('#card').value.trim(),
    password: f.querySelector('#password').value,
  }));
  patron.append(
    field('library', t('signin.library'), { type: 'text', value: savedLib, autocomplete: 'organization', autocapitalize: 'characters' }, t('signin.library_hint')),
    field('card', t('signin.card'), { type: 'text', autocomplete: 'username', inputmode: 'numeric' }),
    field('password', t('signin.password'), { type: 'password', autocomplete: 'current-password' }),
    h('button', { type: 'submit' }, t('signin.submit')));

  const staffFields = [['email', t('signin.email')], ['staff-password', t('signin.password')]];
  const staffForm = makeForm(staffFields, (f) => ({
    email: f.querySelector('#email').value.trim(),
    password: f.querySelector('#staff-password').value,
  }));
  staffForm.append(
    field('email', t('signin.email'), { type: 'email', autocomplete: 'username' }),
    field('staff-password', t('signin.password'), { type: 'password', autocomplete: 'current-password' }),
    h('button', { type: 'submit' }, t('signin.submit')));

  clear(main(),
    h('h1', null, t('signin.title')),
    h('div', { class: 'signin' },
      h('section', { 'aria-labelledby': 'patron-h', class: 'panel' }, h('h2', { id: 'patron-h' }, t('signin.patron')), patron),
      h('section', { 'aria-labelledby': 'staff-h', class: 'panel' }, h('h2', { id: 'staff-h' }, t('signin.staff')), staffForm)));
}

async function account() {
  if (!state.me || state.me.type !== 'patron') {
    if (state.me) return navigate('/staff', { replace: true });
    return navigate(`/signin${qs({ next: '/account' })}`, { replace: true });
  }
  const [me, loans, holds, all, notes] = await Promise.all([
    get('/api/v1/me'), get('/api/v1/loans?per_page=100'), get('/api/v1/holds?per_page=100'),
    get('/api/v1/loans?state=all&per_page=50'), get('/api/v1/me/notifications?per_page=20')]);
  state.me = me;
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status' });
  const alert = h('div', { role: 'alert', class: 'error-text' });
  // After an action the page is drawn again: focus goes back to the section acted in,
  // so keyboard users keep their place, and the result is announced.
  const refresh = async (msg, where) => {
    await account();
    const s = main().querySelector('.status');
    if (s && msg) s.textContent = msg;
    const heading = where && document.getElementById(where);
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
  };
  const act = async (fn, okText, where = 'loans-h') => {
    alert.textContent = '';
    try {
      const res = await fn();
      await refresh(okText(res), where);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      alert.textContent = errorText(e);
    }
  };

  const loanItem = (l) => {
    const open = openLink(l);
    return h('li', { class: 'item' },
      h('h3', null, h('a', { href: `/titles/${l.title_id}` }, l.title)),
      h('p', { class: 'kind' }, kindLabel(l.kind)),
      h('p', null, t('account.due', { due: formatDate(l.due, true) })),
      h('div', { class: 'buttons' },
        open ? h('a', { class: 'button', href: open[1] }, open[0]) : null,
        l.kind !== 'ebook' && !open ? h('span', { class: 'note' }, t('player.no_stream')) : null,
        l.links && l.links.download
          ? h('a', { class: 'button secondary', href: l.links.download, download: '' }, t('account.download')) : null,
        h('button', { type: 'button', class: 'secondary', onclick: () => act(
          () => post(`/api/v1/loans/${l.id}/renew`),
          (r) => t('account.renewed', { title: l.title, due: formatDate((r.loan || r).due) })) },
        t('account.renew'), h('span', { class: 'visually-hidden' }, ` ${l.title}`)),
        h('button', { type: 'button', class: 'secondary', onclick: () => act(
          () => post(`/api/v1/loans/${l.id}/return`), () => t('account.returned', { title: l.title })) },
        t('account.return'), h('span', { class: 'visually-hidden' }, ` ${l.title}`))));
  };
  const openHolds = holds.items.filter((x) => x.state === 'waiting' || x.state === 'ready');
  const holdItem = (x) => h('li', { class: `item${x.state === 'ready' ? ' ready' : ''}` },
    h('h3', null, h('a', { href: `/titles/${x.title_id}` }, x.title)),
    h('p', null, x.state === 'ready'
      ? t('account.ready_until', { until: formatDate(x.ready_until, true) })
      : t('account.position', { pos: x.position }) + (x.estimated_wait_days ? t('title.wait', { days: x.estimated_wait_days }) : '')),
    h('div', { class: 'buttons' },
      x.state === 'ready' ? h('button', { type: 'button', onclick: () => act(
        () => post('/api/v1/loans', { title_id: x.title_id }, { idempotencyKey: crypto.randomUUID() }),
        (r) => t('account.borrowed', { title: x.title, due: formatDate(r.loan.due) })) },
      t('title.borrow'), h('span', { class: 'visually-hidden' }, ` ${x.title}`)) : null,
      h('button', { type: 'button', class: 'secondary', onclick: () => act(
        () => del(`/api/v1/holds/${x.id}`), () => t('account.cancelled', { title: x.title }), 'holds-h') },
      t('account.cancel'), h('span', { class: 'visually-hidden' }, ` ${x.title}`))));
  const past = all.items.filter((l) => l.state !== 'active');
  const noteText = (n) => {
    const k = `note.${n.kind}`;
    return t(['note.hold_ready', 'note.hold_expiring', 'note.loan_ending'].includes(k) ? k : 'note.other',
      { title: n.title, due: formatDate(n.due, true) });
  };
  const unread = notes.items.some((n) => !n.read);
  clear(main(),
    h('h1', null, t('account.title')),
    h('p', { class: 'lead' }, t('account.hello', { name: me.name || me.card }), ' — ',
      t('account.card', { card: me.card, library: me.library.name })),
    status, alert,
    h('section', { 'aria-labelledby': 'loans-h' },
      h('h2', { id: 'loans-h' }, t('account.loans')),
      h('p', null, t('account.loans_count', me.loans.active, me.loans.max)),
      loans.items.length ? h('ul', { class: 'items' }, loans.items.map(loanItem)) : h('p', null, t('account.no_loans'))),
    h('section', { 'aria-labelledby': 'holds-h' },
      h('h2', { id: 'holds-h' }, t('account.holds')),
      openHolds.length ? h('ul', { class: 'items' }, openHolds.map(holdItem)) : h('p', null, t('account.no_holds'))),
    h('section', { 'aria-labelledby': 'notes-h' },
      h('h2', { id: 'notes-h' }, t('account.notifications')),
      notes.items.length ? h('ul', { class: 'notes' }, notes.items.map((n) => h('li', { class: n.read ? '' : 'unread' },
        !n.read ? h('strong', null, t('note.unread'), colon()) : null,
        noteText(n), ' ', h('span', { class: 'when' }, formatDate(n.created, true)))))
        : h('p', null, t('account.no_notifications')),
      unread ? h('button', { type: 'button', class: 'secondary', onclick: () => act(
        () => post('/api/v1/me/notifications/read'), () => t('account.marked'), 'notes-h') }, t('account.mark_read')) : null),
    h('section', { 'aria-labelledby': 'history-h' },
      h('h2', { id: 'history-h' }, t('account.history')),
      past.length ? h('ul', { class: 'history' }, past.map((l) => h('li', null,
        h('a', { href: `/titles/${l.title_id}` }, l.title), ' — ', kindLabel(l.kind), ', ',
        t('account.started', { date: formatDate(l.started) }), ', ', t(`account.state.${l.state}`))))
        : h('p', null, t('account.no_history'))));
}

// ---- start ----

async function start() {
  initLang();
  // Signed out, there is no CSRF cookie: no need to ask who we are.
  if (/(?:^|;\s*)pretnum_csrf=/.test(document.cookie)) {
    try {
      state.me = await get('/api/v1/me');
    } catch {
      state.me = null;
    }
  }
  await render();
}

start();

export { api, get, post, del, qs, ApiError, h, clear, announce, t, lang, errorText, formatDate, formatDuration };
