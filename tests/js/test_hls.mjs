// The playlists of a real stream, parsed strictly by the npm hls-parser (strictMode: any
// deviation from RFC 8216 throws), fetched from a real `pretnum serve` through a real
// loan's links.stream: the multivariant playlist's BANDWIDTH and CODECS, the media
// playlist's VOD shape, EXT-X-MAP, EXTINF values within the target duration and summing
// to the media's duration (ffprobe on the source), every URI fetched with the token the
// relative resolution gives it. Run by scripts/check.sh; prints TAP.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startFixture, tap } from './stream_fixture.mjs';

const require = createRequire(import.meta.url);
const HLS = require('hls-parser');
HLS.setOptions({ strictMode: true, silent: true });
const { ok, done } = tap();

const media = [
  { name: 'film.mp4', kind: 'video', fps: 25, args: ['-f', 'lavfi', '-i', 'testsrc2=duration=15:size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=duration=15', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '48', '-c:a', 'aac', '-shortest'] },
  { name: 'album.flac', kind: 'audio', args: ['-f', 'lavfi', '-i', 'sine=duration=14:sample_rate=44100', '-ac', '2', '-c:a', 'flac'] },
  { name: 'track.mp3', kind: 'audio', args: ['-f', 'lavfi', '-i', 'sine=duration=8:sample_rate=44100', '-c:a', 'libmp3lame'] },
];

let fx;
try {
  fx = await startFixture(media);
  ok(true, 'a server with three borrowed titles');
} catch (e) {
  ok(false, 'a server with three borrowed titles', e.stack);
  process.exit(done() ? 1 : 0);
}

try {
  for (const m of media) {
    const loan = fx.loans[m.name];
    const link = loan.links && loan.links.stream;
    ok(typeof link === 'string' && /^\/stream\/[^/]+\/master\.m3u8$/.test(link), `${m.name}: links.stream is the master playlist`, JSON.stringify(loan.links));
    const masterUrl = new URL(link, fx.base);
    const r = await fetch(masterUrl);
    ok(r.status === 200 && r.headers.get('content-type') === 'application/vnd.apple.mpegurl', `${m.name}: master playlist served as HLS`);
    ok(/no-store/.test(r.headers.get('cache-control')), `${m.name}: a playlist with a token is never stored`);
    let master;
    try {
      master = HLS.parse(await r.text());
      ok(master.isMasterPlaylist, `${m.name}: the master playlist parses strictly`);
    } catch (e) {
      ok(false, `${m.name}: the master playlist parses strictly`, e.message);
      continue;
    }
    ok(master.version === 7 && master.independentSegments, `${m.name}: VERSION 7, INDEPENDENT-SEGMENTS`);
    ok(master.variants.length === 1, `${m.name}: one variant`);
    const v = master.variants[0];
    ok(v.bandwidth > 0 && v.averageBandwidth > 0 && v.averageBandwidth <= v.bandwidth, `${m.name}: BANDWIDTH and AVERAGE-BANDWIDTH`, JSON.stringify(v));
    const wantCodecs = m.kind === 'video' ? /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/ : /^mp4a\.40\.2$/;
    ok(wantCodecs.test(v.codecs), `${m.name}: CODECS ${v.codecs}`);
    ok(m.kind === 'video' ? v.resolution.width === 640 && v.resolution.height === 360 && v.frameRate === 25 : !v.resolution, `${m.name}: RESOLUTION and FRAME-RATE only for a film`);
    const indexUrl = new URL(v.uri, masterUrl);
    ok(indexUrl.pathname.startsWith(masterUrl.pathname.replace(/master\.m3u8$/, '')), `${m.name}: the variant's URI carries the token`);
    const ri = await fetch(indexUrl);
    ok(ri.status === 200 && /no-store/.test(ri.headers.get('cache-control')), `${m.name}: media playlist served, not stored`);
    let pl;
    try {
      pl = HLS.parse(await ri.text());
      ok(!pl.isMasterPlaylist, `${m.name}: the media playlist parses strictly`);
    } catch (e) {
      ok(false, `${m.name}: the media playlist parses strictly`, e.message);
      continue;
    }
    ok(pl.version === 7 && pl.playlistType === 'VOD' && pl.endlist && pl.independentSegments && pl.mediaSequenceBase === 0, `${m.name}: VOD, ENDLIST, INDEPENDENT-SEGMENTS`);
    ok(pl.segments.length >= 2 && pl.segments.every((s) => s.map && s.map.uri === 'init.mp4'), `${m.name}: every segment has the EXT-X-MAP init segment`);
    ok(pl.segments.every((s) => s.duration > 0 && s.duration <= pl.targetDuration), `${m.name}: EXTINF within TARGETDURATION ${pl.targetDuration}`, pl.segments.map((s) => s.duration).join(' '));
    if (m.kind === 'video') {
      // Cut at the first IDR at or past 6 s.
      ok(pl.segments.slice(0, -1).every((s) => s.duration >= 6 - 1e-6), `${m.name}: segments of 6 s at least but the last`);
    } else {
      // Cut before the AAC frame that would pass 6 s: within a frame of 6 s, never above.
      ok(pl.targetDuration === 6 && pl.segments.slice(0, -1).every((s) => s.duration > 6 - 1024 / 44100 && s.duration <= 6 + 1e-6),
        `${m.name}: segments of 6 s less at most one AAC frame but the last, TARGETDURATION 6`, pl.segments.map((s) => s.duration).join(' '));
    }
    const sum = pl.segments.reduce((a, s) => a + s.duration, 0);
    const src = join(fx.dir, m.name);
    // The source's duration: its video stream's, or its samples as ffmpeg decodes them.
    const want = m.kind === 'video'
      ? Number(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=duration', '-of', 'csv=p=0', src]).toString())
      : execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', src, '-map', '0:a:0', '-ac', '1', '-f', 's16le', '-'], { maxBuffer: 1 << 28 }).length / 2 / 44100;
    const frame = m.kind === 'video' ? 1 / m.fps : 1024 / 44100;
    ok(Math.abs(sum - want) <= frame, `${m.name}: EXTINF sum ${sum.toFixed(6)} within one frame of the source's ${want}`);
    // Every URI as a player resolves it: no header, no cookie.
    const uris = [pl.segments[0].map.uri, ...pl.segments.map((s) => s.uri)];
    let all = true;
    let why = '';
    for (const u of uris) {
      const s = await fetch(new URL(u, indexUrl));
      const body = new Uint8Array(await s.arrayBuffer());
      const type = m.kind === 'video' ? 'video/mp4' : 'audio/mp4';
      if (s.status !== 200 || s.headers.get('content-type') !== type || body.length === 0 || !/immutable/.test(s.headers.get('cache-control'))) {
        all = false;
        why = `${u}: ${s.status} ${s.headers.get('content-type')} ${s.headers.get('cache-control')}`;
      }
    }
    ok(all, `${m.name}: the init segment and ${uris.length - 1} media segments are served`, why);
  }
  const log = fx.log();
  const leaked = Object.values(fx.loans).filter((l) => log.includes(l.token));
  ok(/path="\/stream\/-\/master\.m3u8"/.test(log) && leaked.length === 0, 'the access log shows /stream/-/..., never a token');
  const starts = fx.psql("SELECT count(*) FROM usage_event WHERE type = 'stream_start'");
  ok(starts === String(media.length), `each master playlist fetch is one stream start (${starts})`);
} catch (e) {
  ok(false, 'no exception', e.stack);
} finally {
  await fx.stop();
}
process.exit(done() ? 1 : 0);
