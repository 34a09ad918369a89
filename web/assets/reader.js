// The e-book reader: Readium's navigator (@readium/navigator, pinned in
// web/package-lock.json) on the book's Web Publication Manifest (links.read) and its
// positions list. It paginates reflowable books in columns with Readium CSS, lays out
// fixed-layout ones page by page (spreads where they fit), follows links inside the book
// and opens again at a remembered position (its resource and progression).
//
// The navigator shows each page as a blob: document in a frame of this origin, so a page
// is cleaned before it gets there (bookpage.js); the frame also inherits the portal's
// Content-Security-Policy, and /content/ sends a book's resources only as what such a
// frame loads (h_content.c). Nothing in a book can act with the patron's session.
//
// The token lives only in the base URL: the manifest's hrefs are made relative to it, so
// when keepFresh() brings a new token the base changes and the next pages built load with
// it (the navigator rebuilds its pages when the base changes).
import { EpubNavigator, EpubPreferences } from '/vendor/readium/navigator.js';
import { HttpFetcher, Link, Locator, Manifest, Publication } from '/vendor/readium/shared.js';
import { get } from './api.js';
import { cleanPage } from './bookpage.js';
import { h, clear, announce } from './dom.js';
import { t } from './i18n.js';
import { keepFresh } from './token.js';
import { onLeave } from './app.js';

const SCALES = [0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2];
const POSITIONS = 'application/vnd.readium.position-list+json';

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || '{}'); } catch { return {}; }
}
function save(key, v) {
  try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* private mode */ }
}

// Every href under /content/TOKEN/ becomes relative to that directory.
function relativize(doc, prefix) {
  const walk = (v) => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (!v || typeof v !== 'object') return;
    if (typeof v.href === 'string') {
      const u = new URL(v.href, location.href);
      if (u.origin === location.origin && u.pathname.startsWith(prefix)) {
        v.href = u.pathname.slice(prefix.length) + u.search + u.hash;
      }
    }
    for (const k of ['links', 'readingOrder', 'resources', 'toc', 'children', 'positions', 'alternate']) walk(v[k]);
  };
  walk(doc);
  return doc;
}

function hrefPath(href) {
  return href.split('#')[0];
}

export async function reader(loanId) {
  const main = document.getElementById('main');
  // Leaving while this page still loads must not draw it over the next one.
  let left = false;
  let nav = null;
  onLeave(() => { left = true; if (nav) nav.destroy(); nav = null; });
  const ended = (title) => clear(main, h('h1', null, title), h('p', { role: 'alert' }, t('reader.ended')),
    h('p', null, h('a', { href: '/account' }, t('reader.back'))));

  const { loan } = await get(`/api/v1/loans/${encodeURIComponent(loanId)}`);
  if (left) return;
  if (loan.state !== 'active' || !loan.links || !loan.links.read) {
    ended(loan.title);
    return;
  }
  let token = loan.token;
  const dir = () => new URL(`/content/${token}/`, location.href).href;
  // Every fetch of the book: no cookie, pages cleaned (bookpage.js), and a loan that ends
  // while it is read (403, or a token that could not be renewed: 401) says so.
  const omit = async (url, init) => {
    const res = await fetch(url, { ...init, credentials: 'omit' });
    if ((res.status === 401 || res.status === 403) && !left) {
      if (nav) nav.destroy();
      nav = null;
      ended(loan.title);
    }
    return cleanPage(res);
  };
  const prefix = new URL(loan.links.read, location.href).pathname.replace(/[^/]*$/, '');

  const res = await omit(loan.links.read);
  if (left) return;
  if (!res.ok) {
    if (res.status !== 401 && res.status !== 403) throw new Error(t('reader.unavailable'));
    return;
  }
  const raw = relativize(await res.json(), prefix);
  const posLink = (raw.links || []).find((l) => l.type === POSITIONS);
  let positions = [];
  if (posLink) {
    const pr = await omit(new URL(posLink.href, dir()).href);
    if (pr.ok) {
      const list = relativize(await pr.json(), prefix);
      positions = (list.positions || []).map((p) => Locator.deserialize(p)).filter(Boolean);
    }
  }
  if (left || !main.isConnected) return;
  raw.links = (raw.links || []).filter((l) => !(l.rel === 'self' || (Array.isArray(l.rel) && l.rel.includes('self'))));
  const manifest = Manifest.deserialize(raw);
  if (!manifest || !manifest.readingOrder.items.length) throw new Error(t('reader.ended'));
  manifest.setSelfLink(`${dir()}manifest.json`);
  const fetcher = new HttpFetcher(omit, dir());
  const pub = new Publication({ manifest, fetcher });
  // Without a list (a server that has none), one position per resource of the reading order.
  if (!positions.length) {
    positions = manifest.readingOrder.items.map((l, i) => Locator.deserialize({
      href: l.href, type: l.type || 'application/xhtml+xml', locations: { position: i + 1, progression: 0 } }));
  }
  const total = positions.length;

  const key = `pretnum.reader.${loan.title_id}`;
  const saved = load(key);
  let scale = SCALES.includes(saved.scale) ? saved.scale : 1;
  let initial;
  // A remembered locator is taken back only if its position is still in the list for the
  // same resource (a new edition of the book has other positions): else its resource's start.
  if (saved.locator) {
    const l = Locator.deserialize(saved.locator);
    const href = l && hrefPath(l.href);
    const same = l && positions.find((p) => p.href === href && p.locations.position === l.locations.position);
    initial = same ? l : positions.find((p) => p.href === href);
  }
  const title = (raw.metadata && raw.metadata.title) || loan.title;
  const fixed = raw.metadata && raw.metadata.layout === 'fixed';

  const toc = [];
  const walk = (items, depth) => {
    for (const it of items || []) {
      toc.push({ href: it.href, title: it.title || it.href, depth });
      walk(it.children, depth + 1);
    }
  };
  walk(raw.toc, 0);

  const where = h('p', { class: 'where', 'aria-live': 'polite' });
  const sizeText = h('span', { class: 'size' });
  const prev = h('button', { type: 'button', onclick: () => turn(-1) }, h('span', { 'aria-hidden': 'true' }, '← '), t('reader.prev'));
  const next = h('button', { type: 'button', onclick: () => turn(1) }, t('reader.next'), h('span', { 'aria-hidden': 'true' }, ' →'));
  const smaller = h('button', { type: 'button', onclick: () => zoom(-1) },
    h('span', { 'aria-hidden': 'true' }, 'A−'), h('span', { class: 'visually-hidden' }, t('reader.smaller')));
  const larger = h('button', { type: 'button', onclick: () => zoom(1) },
    h('span', { 'aria-hidden': 'true' }, 'A+'), h('span', { class: 'visually-hidden' }, t('reader.larger')));
  const container = h('div', { class: 'reader-pages' });
  const stage = h('div', { class: 'reader-stage', role: 'region', 'aria-label': t('reader.frame', { title }) }, container);

  let current = null;
  const frameTitle = t('reader.frame', { title });
  // The navigator makes the frames; each gets a title for screen readers.
  const titleFrames = () => container.querySelectorAll('iframe').forEach((f) => {
    if (f.title !== frameTitle) f.title = frameTitle;
  });
  const frames = new MutationObserver(titleFrames);
  frames.observe(container, { childList: true, subtree: true });
  onLeave(() => frames.disconnect());

  // aria-disabled rather than disabled, so a button keeps the focus at either end.
  const able = (button, yes) => button.setAttribute('aria-disabled', String(!yes));
  function update() {
    if (!nav) return;
    able(prev, nav.canGoBackward);
    able(next, nav.canGoForward);
    const n = current && current.locations && current.locations.position;
    where.textContent = n && total ? t('reader.page', { i: n, n: total }) : '';
    sizeText.textContent = t('reader.size', { n: Math.round(scale * 100) });
    able(smaller, scale !== SCALES[0]);
    able(larger, scale !== SCALES[SCALES.length - 1]);
  }
  function remember() {
    save(key, { scale, locator: current ? current.serialize() : undefined });
  }
  function turn(d) {
    if (!nav || (d > 0 ? next : prev).getAttribute('aria-disabled') === 'true') return;
    const done = () => update();
    if (d > 0) nav.goForward(false, done); else nav.goBackward(false, done);
  }
  async function zoom(d) {
    const k = SCALES.indexOf(scale) + d;
    if (k < 0 || k >= SCALES.length || !nav) return;
    scale = SCALES[k];
    await nav.submitPreferences(new EpubPreferences({ fontSize: scale }));
    update();
    remember();
    announce(sizeText.textContent);
  }
  function goTo(href) {
    if (!nav) return;
    nav.goLink(new Link({ href }), false, () => update());
  }

  const tocList = h('ol', { class: 'toc' }, toc.map((e) => h('li', { class: `depth-${Math.min(e.depth, 3)}` },
    h('a', { href: '#', 'data-href': e.href, onclick: (ev) => {
      ev.preventDefault();
      goTo(e.href);
      ev.target.closest('details').open = false;
      stage.focus();
    } }, e.title))));
  stage.tabIndex = -1;

  // The copy for reading apps, its link kept on the current token.
  const download = loan.links.download
    ? h('a', { class: 'download', href: loan.links.download, download: '' }, t('reader.download')) : null;
  onLeave(keepFresh(loan, (fresh) => {
    token = fresh;
    fetcher.baseUrl = dir();
    manifest.setSelfLink(`${dir()}manifest.json`);
    if (download) download.href = `/download/${fresh}`;
  }));

  clear(main,
    h('div', { class: 'reader' },
      h('div', { class: 'reader-head' },
        h('h1', { class: 'reader-title' }, title),
        h('p', { class: 'reader-links' }, download, h('a', { href: '/account' }, t('reader.back')))),
      h('nav', { class: 'reader-bar', 'aria-label': t('reader.toc') },
        toc.length ? h('details', { class: 'toc-box' }, h('summary', null, t('reader.toc')), tocList) : null,
        h('div', { class: 'group' }, prev, where, next),
        // A fixed-layout page is drawn as its designer set it: no text size.
        fixed ? null : h('div', { class: 'group' }, smaller, sizeText, larger)),
      stage));

  const listeners = {
    positionChanged(locator) {
      current = locator;
      update();
      remember();
    },
    frameLoaded() { titleFrames(); },
    // A link out of the book opens in a new tab, without the page's address as referrer.
    handleLocator(locator) {
      const href = locator.href || '';
      if (/^https?:/i.test(href)) {
        window.open(href, '_blank', 'noopener,noreferrer');
        return true;
      }
      return false;
    },
    // The keys below, caught by the navigator in the portal and in the book's frames.
    peripheral(p) {
      if (!nav || !p) return;
      const done = () => update();
      if (p.type === 'page_left') nav.goLeft(false, done);
      else if (p.type === 'page_right') nav.goRight(false, done);
      else if (p.type === 'page_back') nav.goBackward(false, done);
      else if (p.type === 'page_forward') nav.goForward(false, done);
    },
  };
  // Left and right arrows turn the page the way the book reads (right to left too); Page
  // Up and Page Down go back and forward. Never with a modifier: Alt+Left stays "back".
  const combo = (type, keyCode) => ({ type, keyCombos: [{ keyCode, ctrl: false, alt: false, meta: false, shift: false }] });
  const keyboardPeripherals = [combo('page_left', 37), combo('page_right', 39), combo('page_back', 33), combo('page_forward', 34)];
  // The navigator takes these keys wherever they are pressed on the page; a field being
  // typed in keeps them, and Page Up/Down keep scrolling the portal page when the book
  // does not have the focus (at 200% text the page may need it).
  const guard = (ev) => {
    const el = ev.target;
    const typing = el && el.closest && el.closest('input, select, textarea, [contenteditable]');
    const paging = (ev.key === 'PageUp' || ev.key === 'PageDown') && !(el && stage.contains(el));
    if (typing || paging || ev.altKey || ev.ctrlKey || ev.metaKey) ev.stopPropagation();
  };
  window.addEventListener('keydown', guard, true);
  onLeave(() => window.removeEventListener('keydown', guard, true));
  nav = new EpubNavigator(container, pub, listeners, positions, initial,
    { preferences: { fontSize: scale }, defaults: {}, keyboardPeripherals });
  await nav.load();
  update();
}
