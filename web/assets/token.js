// A loan's links carry a short-lived token. keepFresh() asks for a new one a minute
// before the current one expires, for as long as the page is open, and hands it over.
import { post } from './api.js';

export function keepFresh(loan, onToken) {
  let timer = null;
  let stopped = false;
  const schedule = (expires) => {
    const ms = Math.max(5000, new Date(expires).getTime() - Date.now() - 60000);
    timer = setTimeout(refresh, ms);
  };
  const refresh = async () => {
    if (stopped) return;
    try {
      const fresh = await post(`/api/v1/loans/${loan.id}/token`);
      if (stopped) return;
      onToken(fresh.token, fresh.token_expires);
      schedule(fresh.token_expires);
    } catch (e) {
      // The loan ended (409) or the session did (401): the page says so when it next loads.
      if (e.status === 0) timer = setTimeout(refresh, 10000);
    }
  };
  if (loan.token_expires) schedule(loan.token_expires);
  return () => { stopped = true; clearTimeout(timer); };
}
