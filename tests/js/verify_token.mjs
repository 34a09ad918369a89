// Verifies a token the way a third party would: with the npm paseto package (an
// implementation independent of ours, on Node's Ed25519) and only the public keys the
// server publishes at /.well-known/pretnum/keys, chosen by the footer's kid.
//
//   node tests/js/verify_token.mjs KEYS_JSON TOKEN
// Prints the claims as JSON and exits 0, or prints the error and exits 1.
import { createRequire } from 'node:module';
import { createPublicKey } from 'node:crypto';

const require = createRequire(import.meta.url);
const { V4, decode } = require('paseto');

const [keysJson, token] = process.argv.slice(2);
try {
  const { footer } = decode(token);
  const kid = JSON.parse(footer.toString()).kid;
  const key = JSON.parse(keysJson).keys.find((k) => k.kid === kid);
  if (!key) throw new Error(`no published key ${kid}`);
  if (!key.paserk.startsWith('k4.public.')) throw new Error('not a k4.public PASERK');
  const raw = Buffer.from(key.paserk.slice('k4.public.'.length), 'base64url');
  // An Ed25519 public key as SPKI DER: the fixed 12-byte prefix, then the 32 bytes.
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  const pk = createPublicKey({ key: der, format: 'der', type: 'spki' });
  const claims = await V4.verify(token, pk);
  console.log(JSON.stringify(claims));
} catch (e) {
  console.log(`${e.code || 'error'}: ${e.message}`);
  process.exit(1);
}
