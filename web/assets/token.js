// A loan's links carry a short-lived token. keepFresh() asks for a new one a minute
// before the current one expires, for as long as the page is open, and hands it over.
import { post } from './api.js';

// How long a token lives, from its own claims (iat, exp: a PASETO v4.public payload is
// signed, not encrypted), so a computer whose clock is wrong still refreshes in time.
function lifetime(token, expires) {
  try {
    const b64 = token.split('.')[2].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes.subarray(0, bytes.length - 64)));
    const ms = Date.parse(claims.exp) - Date.parse(claims.iat);
    if (ms > 0) return ms;
  } catch { /* not the shape we know: fall back on our clock */ }
  return new Date(expires).getTime() - Date.now();
}

export function keepFresh(loan, onToken) {
  let timer = null;
  let stopped = false;
  const schedule = (token, expires) => {
    timer = setTimeout(refresh, Math.max(5000, lifetime(token, expires) - 60000));
  };
  const refresh = async () => {
    if (stopped) return;
    try {
      const fresh = await post(`/api/v1/loans/${loan.id}/token`);
      if (stopped) return;
      onToken(fresh.token, fresh.token_expires);
      schedule(fresh.token, fresh.token_expires);
    } catch (e) {
      // The loan ended (409) or the session did (401): the page says so when it next loads.
      if (e.status === 0) timer = setTimeout(refresh, 10000);
    }
  };
  if (loan.token) schedule(loan.token, loan.token_expires);
  return () => { stopped = true; clearTimeout(timer); };
}
