// The e-book reader, on the book's Web Publication Manifest (links.read). Each resource
// of the reading order is shown in a frame that loads it straight from /content/, where
// the server sandboxes it into an opaque origin: the book's own styles and scripts run,
// but nothing in it can reach the portal's session. Text size scales the frame (its
// page reflows to a narrower viewport, then is enlarged), since an opaque frame cannot
// take an injected stylesheet.
import { get } from './api.js';
import { h, clear, announce } from './dom.js';
import { t } from './i18n.js';
import { keepFresh } from './token.js';
import { onLeave } from './app.js';

const SCALES = [0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2];

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || '{}'); } catch { return {}; }
}
function save(key, v) {
  try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* private mode */ }
}

export async function reader(loanId) {
  const main = document.getElementById('main');
  const { loan } = await get(`/api/v1/loans/${encodeURIComponent(loanId)}`);
  if (loan.state !== 'active' || !loan.links || !loan.links.read) {
    clear(main, h('h1', null, loan.title), h('p', { role: 'alert' }, t('reader.ended')),
      h('p', null, h('a', { href: '/account' }, t('reader.back'))));
    return;
  }
  const res = await fetch(loan.links.read, { credentials: 'omit' });
  if (!res.ok) throw new Error(t('reader.ended'));
  const manifest = await res.json();

  // hrefs are /content/TOKEN/path: keep the path, put the current token in front.
  let token = loan.token;
  const prefix = () => `/content/${token}/`;
  const rel = (href) => {
    const u = new URL(href, new URL(loan.links.read, location.href));
    const p = u.pathname;
    const i = p.indexOf('/', '/content/'.length);
    return decodeURI(p.slice(i + 1)) + u.hash;
  };
  const spine = (manifest.readingOrder || []).map((l) => ({ path: rel(l.href), title: l.title }));
  const toc = [];
  const walk = (items, depth) => {
    for (const it of items || []) {
      toc.push({ path: rel(it.href), title: it.title || it.href, depth });
      walk(it.children, depth + 1);
    }
  };
  walk(manifest.toc, 0);
  if (!spine.length) throw new Error(t('reader.ended'));

  const key = `pretnum.reader.${loan.title_id}`;
  const saved = load(key);
  let index = Number.isInteger(saved.index) && saved.index < spine.length ? saved.index : 0;
  let scale = SCALES.includes(saved.scale) ? saved.scale : 1;
  const title = (manifest.metadata && manifest.metadata.title) || loan.title;

  const frame = h('iframe', { class: 'book-frame', title: t('reader.frame', { title }),
    sandbox: 'allow-scripts allow-popups', referrerpolicy: 'no-referrer' });
  const where = h('p', { class: 'where', 'aria-live': 'polite' });
  const sizeText = h('span', { class: 'size' });
  const prev = h('button', { type: 'button', onclick: () => go(index - 1) }, h('span', { 'aria-hidden': 'true' }, '← '), t('reader.prev'));
  const next = h('button', { type: 'button', onclick: () => go(index + 1) }, t('reader.next'), h('span', { 'aria-hidden': 'true' }, ' →'));
  const smaller = h('button', { type: 'button', onclick: () => zoom(-1) },
    h('span', { 'aria-hidden': 'true' }, 'A−'), h('span', { class: 'visually-hidden' }, t('reader.smaller')));
  const larger = h('button', { type: 'button', onclick: () => zoom(1) },
    h('span', { 'aria-hidden': 'true' }, 'A+'), h('span', { class: 'visually-hidden' }, t('reader.larger')));
  const stage = h('div', { class: 'reader-stage' }, frame);

  const tocList = h('ol', { class: 'toc' }, toc.map((e) => h('li', { class: `depth-${Math.min(e.depth, 3)}` },
    h('a', { href: '#', 'data-path': e.path, onclick: (ev) => {
      ev.preventDefault();
      const base = e.path.split('#')[0];
      const i = spine.findIndex((s) => s.path.split('#')[0] === base);
      if (i >= 0) go(i, e.path);
      ev.target.closest('details').open = false;
      frame.focus();
    } }, e.title))));

  function show(path) {
    frame.src = prefix() + encodeURI(path);
  }
  function update() {
    prev.disabled = index === 0;
    next.disabled = index === spine.length - 1;
    where.textContent = t('reader.position', { i: index + 1, n: spine.length });
    sizeText.textContent = t('reader.size', { n: Math.round(scale * 100) });
    smaller.disabled = scale === SCALES[0];
    larger.disabled = scale === SCALES[SCALES.length - 1];
    stage.style.setProperty('--scale', String(scale));
    save(key, { index, scale });
  }
  function go(i, path) {
    if (i < 0 || i >= spine.length) return;
    index = i;
    show(path || spine[i].path);
    update();
  }
  function zoom(d) {
    const k = SCALES.indexOf(scale) + d;
    if (k < 0 || k >= SCALES.length) return;
    scale = SCALES[k];
    update();
    announce(sizeText.textContent);
  }
  const onKey = (ev) => {
    if (ev.target.closest('input, select, textarea') || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === 'ArrowRight' && !next.disabled) go(index + 1);
    else if (ev.key === 'ArrowLeft' && !prev.disabled) go(index - 1);
  };
  document.addEventListener('keydown', onKey);
  onLeave(() => document.removeEventListener('keydown', onKey));
  onLeave(keepFresh(loan, (fresh) => { token = fresh; }));

  clear(main,
    h('div', { class: 'reader' },
      h('div', { class: 'reader-head' },
        h('h1', { class: 'reader-title' }, title),
        h('p', null, h('a', { href: '/account' }, t('reader.back')))),
      h('nav', { class: 'reader-bar', 'aria-label': t('reader.toc') },
        toc.length ? h('details', { class: 'toc-box' }, h('summary', null, t('reader.toc')), tocList) : null,
        h('div', { class: 'group' }, prev, where, next),
        h('div', { class: 'group' }, smaller, sizeText, larger)),
      stage));
  show(spine[index].path);
  update();
}
