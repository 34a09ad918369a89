// hls.js in Debian's headless Chromium (playwright-core, never a downloaded browser)
// plays a real stream from a real `pretnum serve` through a real loan's links.stream: a
// film (H.264 + AAC), an album in FLAC and a track in MP3 (both re-encoded to AAC);
// playback advances, a seek lands where asked and plays on from there, and hls.js
// reports no error. Run by scripts/check.sh; prints TAP.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFixture, tap } from './stream_fixture.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const hlsjs = readFileSync(join(here, 'node_modules', 'hls.js', 'dist', 'hls.min.js'));
const { ok, done } = tap();

const media = [
  { name: 'film.mp4', tag: 'video', args: ['-f', 'lavfi', '-i', 'testsrc2=duration=30:size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=duration=30', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-c:a', 'aac', '-shortest'] },
  { name: 'album.flac', tag: 'audio', args: ['-f', 'lavfi', '-i', 'sine=duration=25:sample_rate=44100', '-ac', '2', '-c:a', 'flac'] },
  // Audio that starts 0.48 s after the video (an MKV as a camera or a capture makes).
  { name: 'late.mkv', tag: 'video', lateAudio: 0.48, args: ['-f', 'lavfi', '-i', 'testsrc2=duration=20:size=320x180:rate=25', '-itsoffset', '0.48', '-f', 'lavfi', '-i', 'sine=duration=20', '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-c:a', 'aac'] },
  { name: 'track.mp3', tag: 'audio', args: ['-f', 'lavfi', '-i', 'sine=duration=25:sample_rate=44100', '-c:a', 'libmp3lame'] },
];

const page_html = (tag, src) => `<!doctype html><meta charset="utf-8"><title>player</title>
<${tag} id="m" muted playsinline></${tag}>
<script src="/__test/hls.min.js"></script>
<script>
  window.errors = [];
  const m = document.getElementById('m');
  m.muted = true;
  const hls = new Hls({ enableWorker: true });
  hls.on(Hls.Events.ERROR, (e, d) => { window.errors.push(d.type + ':' + d.details + (d.fatal ? ':fatal' : '')); });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { m.play().catch((e) => window.errors.push('play:' + e.message)); });
  hls.loadSource(${JSON.stringify(src)});
  hls.attachMedia(m);
  window.hls = hls;
</script>`;

let fx;
let browser;
const profile = mkdtempSync(join(tmpdir(), 'pretnum-chromium-'));
try {
  fx = await startFixture(media);
  ok(true, 'a server with four borrowed titles');
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  ok(true, 'headless Chromium starts');
  for (const m of media) {
    const link = fx.loans[m.name].links.stream;
    const page = await browser.newPage();
    await page.route(`${fx.base}/__test/**`, (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === '/__test/hls.min.js') return route.fulfill({ body: hlsjs, contentType: 'text/javascript' });
      return route.fulfill({ body: page_html(m.tag, link), contentType: 'text/html' });
    });
    await page.goto(`${fx.base}/__test/player.html`);
    const state = () => page.evaluate(() => ({ t: document.getElementById('m').currentTime, errors: window.errors, paused: document.getElementById('m').paused, d: document.getElementById('m').duration }));
    let s;
    try {
      await page.waitForFunction(() => document.getElementById('m').currentTime > 2, null, { timeout: 45000, polling: 200 });
      s = await state();
      ok(true, `${m.name}: plays in Chromium with hls.js (t=${s.t.toFixed(2)} of ${s.d.toFixed(2)})`);
    } catch (e) {
      s = await state();
      ok(false, `${m.name}: plays in Chromium with hls.js`, JSON.stringify(s));
      await page.close();
      continue;
    }
    if (m.lateAudio) {
      // The browser's timeline keeps the audio late: once the whole film is buffered,
      // what is buffered ends with the audio, about 0.46 s after the video's 20.04 s
      // (had both tracks been started at once, it would end at 20.04).
      const end = await page.waitForFunction(() => {
        const v = document.getElementById('m');
        const e = v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0;
        return e > 19.9 && window.hls.media && e;
      }, null, { timeout: 45000, polling: 200 }).then((h) => h.jsonValue(), () => 0);
      ok(end > 20.3 && end < 20.7, `${m.name}: audio starting ${m.lateAudio} s late stays late in Chromium (buffered to ${end.toFixed ? end.toFixed(3) : end} s)`);
    }
    // Seek into the third segment and play on from there.
    const target = 14.5;
    try {
      await page.evaluate((t) => { document.getElementById('m').currentTime = t; }, target);
      await page.waitForFunction((t) => {
        const v = document.getElementById('m');
        return !v.seeking && v.currentTime > t + 1;
      }, target, { timeout: 45000, polling: 200 });
      s = await state();
      ok(s.t > target + 1 && s.t < target + 15, `${m.name}: seeking to ${target} s plays on from there (t=${s.t.toFixed(2)})`);
    } catch (e) {
      s = await state();
      ok(false, `${m.name}: seeking to ${target} s plays on from there`, JSON.stringify(s));
    }
    // A stall is the machine being slower than playback (make check shares its cores), not
    // the stream: hls.js reports it as a non-fatal buffer error and plays on.
    const stalls = /^mediaError:(bufferStalledError|bufferNudgeOnStall)$/;
    const errors = s.errors.filter((e) => !stalls.test(e));
    ok(errors.length === 0, `${m.name}: hls.js reported no error (${s.errors.length - errors.length} stalls)`, JSON.stringify(s.errors));
    await page.close();
  }
} catch (e) {
  ok(false, 'no exception', e.stack);
} finally {
  if (browser) await browser.close();
  if (fx) await fx.stop();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(done() ? 1 : 0);
