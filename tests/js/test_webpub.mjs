// The Web Publication Manifest of every valid corpus EPUB, as `pretnum manifest` builds it
// (the same code /content/TOKEN/manifest.json runs), validated with ajv against the
// Readium schemas in the corpus (and the OPDS ones they refer to; draft-07, every file of the schema folder loaded so that
// the $refs resolve offline). The published examples validate too, which shows that the
// validator and the schemas are wired up; a manifest broken on purpose must fail.
// Prints TAP.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const corpus = process.env.PRETNUM_CORPUS || join(here, '..', '..', '..', 'shared', 'corpus');
const bin = process.env.PRETNUM_BIN || join(here, '..', '..', 'bin', 'pretnum');
const schemaDir = join(corpus, 'schemas', 'readium.org', 'webpub-manifest', 'schema');

let n = 0;
let failed = 0;
const ok = (cond, what, detail) => {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
  if (!cond && detail) console.log(`# ${JSON.stringify(detail).slice(0, 2000)}`);
};

const walk = (d) =>
  readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : f.endsWith('.json') ? [p] : [];
  });

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
for (const f of [...walk(schemaDir), ...walk(join(corpus, 'schemas', 'drafts.opds.io'))]) ajv.addSchema(JSON.parse(readFileSync(f, 'utf8')));
const validate = ajv.getSchema('https://readium.org/webpub-manifest/schema/publication.schema.json');
ok(typeof validate === 'function', 'the publication schema compiles with its references');

for (const f of ['Flatland.manifest.json', 'MobyDick.manifest.json']) {
  const ex = JSON.parse(readFileSync(join(corpus, 'schemas', 'examples', 'readium-webpub-manifest', f), 'utf8'));
  ok(validate(ex), `the published example ${f} validates`, validate.errors);
}

const books = readdirSync(join(corpus, 'epub', 'valid')).filter((f) => f.endsWith('.epub')).sort();
ok(books.length >= 8, `${books.length} valid corpus EPUBs`);
let sample = null;
for (const b of books) {
  let m;
  try {
    m = JSON.parse(execFileSync(bin, ['manifest', join(corpus, 'epub', 'valid', b), '/content/TOKEN/']).toString());
  } catch (e) {
    ok(false, `${b}: pretnum manifest runs`, String(e.stderr || e));
    continue;
  }
  sample ??= m;
  ok(validate(m), `${b}: manifest valid against the Readium schema`, validate.errors);
  ok(m.readingOrder.length > 0 && m.readingOrder.every((l) => l.href.startsWith('/content/TOKEN/')),
     `${b}: ${m.readingOrder.length} reading order links under the base`);
}

// A file that is not a valid EPUB gets its error code and no manifest.
const bad = readdirSync(join(corpus, 'epub', 'invalid')).sort()[0];
try {
  execFileSync(bin, ['manifest', join(corpus, 'epub', 'invalid', bad)], { stdio: 'pipe' });
  ok(false, `pretnum manifest refuses ${bad}`);
} catch (e) {
  ok(e.status === 1 && /\([a-z_]+\)\n$/.test(String(e.stderr)) && String(e.stdout) === '',
     `pretnum manifest refuses ${bad}: ${String(e.stderr).trim()}`);
}

// The validator must be able to say no.
const broken = structuredClone(sample);
delete broken.metadata.title;
broken.readingOrder[0].href = 42;
ok(!validate(broken), 'a manifest without a title and with a numeric href is refused');

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
