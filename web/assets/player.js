// Music and film players on the loan's HLS master playlist (links.stream): the browser's
// own HLS where it has it, hls.js over Media Source Extensions elsewhere. Every request
// hls.js makes carries the freshest token, so a long film outlives the 15-minute token.
import { get } from './api.js';
import { h, clear } from './dom.js';
import { t } from './i18n.js';
import { keepFresh } from './token.js';
import { coverSources, onLeave } from './app.js';

export async function player(loanId) {
  const main = document.getElementById('main');
  const { loan } = await get(`/api/v1/loans/${encodeURIComponent(loanId)}`);
  const back = h('p', null, h('a', { href: '/account' }, t('player.back')));
  if (loan.state !== 'active') {
    clear(main, h('h1', null, loan.title), h('p', { role: 'alert' }, t('reader.ended')), back);
    return;
  }
  const stream = loan.links && loan.links.stream;
  if (!stream) {
    clear(main, h('h1', null, loan.title), h('p', null, t('player.no_stream')), back);
    return;
  }
  const title = await get(`/api/v1/titles/${loan.title_id}`).catch(() => null);
  const video = loan.kind === 'video';
  const media = h(video ? 'video' : 'audio', { controls: true, preload: 'metadata', class: 'media',
    poster: video && title && title.cover ? title.cover : null,
    'aria-label': loan.title });
  const status = h('p', { role: 'status', class: 'status' });
  let token = loan.token;
  const current = (url) => url.replace(/\/stream\/[^/]+\//, `/stream/${token}/`);
  let hls = null;

  const playBtn = h('button', { type: 'button', onclick: () => toggle() }, t('player.play'));
  const toggle = () => (media.paused ? media.play().catch(() => {}) : media.pause());
  media.addEventListener('play', () => { playBtn.textContent = t('player.pause'); });
  media.addEventListener('pause', () => { playBtn.textContent = t('player.play'); });
  const seek = (d) => { media.currentTime = Math.max(0, Math.min((media.duration || Infinity), media.currentTime + d)); };
  const keys = (ev) => {
    if (ev.target === media || ev.target.closest('input, select, textarea, button, a') || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === ' ' || ev.key === 'k') { ev.preventDefault(); toggle(); }
    else if (ev.key === 'ArrowLeft' || ev.key === 'j') { ev.preventDefault(); seek(-10); }
    else if (ev.key === 'ArrowRight' || ev.key === 'l') { ev.preventDefault(); seek(10); }
  };
  const region = h('section', { class: 'player', 'aria-label': t(video ? 'account.watch' : 'account.listen'), onkeydown: keys },
    media,
    h('div', { class: 'buttons' },
      playBtn,
      h('button', { type: 'button', onclick: () => seek(-10) }, h('span', { 'aria-hidden': 'true' }, '« '), t('player.rewind')),
      h('button', { type: 'button', onclick: () => seek(10) }, t('player.forward'), h('span', { 'aria-hidden': 'true' }, ' »'))),
    h('p', { class: 'hint' }, t('player.keys')),
    status);
  clear(main,
    h('h1', null, loan.title),
    title && title.authors && title.authors.length ? h('p', { class: 'creators' }, title.authors.join(', ')) : null,
    !video && title && title.cover
      ? h('img', { class: 'cover album', ...coverSources(title.cover, '15rem'), alt: t('title.cover', { title: loan.title }), width: 240, height: 240 })
      : null,
    region, back);

  // hls.js where Media Source Extensions exist: its requests take the fresh token
  // without a hiccup. The browser's own HLS elsewhere (iOS Safari).
  const mse = 'MediaSource' in window || 'ManagedMediaSource' in window;
  const Hls = mse ? (await import('/vendor/hls.mjs')).default : null;
  if (Hls && Hls.isSupported()) {
    hls = new Hls({
      workerPath: '/vendor/hls.worker.js',
      // A minute ahead at most: enough for a bad connection, little wasted on a phone's
      // data plan when the patron stops watching.
      maxBufferLength: 30,
      maxMaxBufferLength: 60,
      xhrSetup: (xhr, url) => { xhr.open('GET', current(url), true); },
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) status.textContent = t('player.unsupported');
    });
    hls.loadSource(stream);
    hls.attachMedia(media);
    onLeave(keepFresh(loan, (fresh) => { token = fresh; }));
  } else if (media.canPlayType('application/vnd.apple.mpegurl')) {
    media.src = stream;
    onLeave(keepFresh(loan, (fresh) => {
      // Native HLS keeps its URLs: reload at the same place with the new token.
      token = fresh;
      const at = media.currentTime, playing = !media.paused;
      media.src = current(media.currentSrc || stream);
      media.addEventListener('loadedmetadata', () => {
        media.currentTime = at;
        if (playing) media.play();
      }, { once: true });
    }));
  } else {
    status.textContent = t('player.unsupported');
  }
  onLeave(() => {
    media.pause();
    if (hls) hls.destroy();
  });
}
