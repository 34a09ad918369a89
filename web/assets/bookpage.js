// A book's page made safe to show in a frame of the portal's origin, before Readium's
// navigator sees it. The server already refuses a book's scripts and documents to the
// reader's frames (h_content.c), and Chromium's frames inherit the portal's policy; this
// is the layer that holds in any browser: the page loses what could run or navigate
// (scripts, event attributes, javascript: links, frames, objects, <meta> refreshes,
// forms' targets) and gains a policy of its own that allows only the navigator's blob:
// helpers. Everything that is reading (text, styles, pictures, links) is kept.
const XHTML = 'http://www.w3.org/1999/xhtml';
const POLICY = "script-src blob:; script-src-attr 'none'; object-src 'none'; frame-src 'none'; "
  + "form-action 'none'; worker-src 'none'";
const GONE = 'script, iframe, frame, frameset, object, embed, applet, portal, meta[http-equiv]';
const URL_ATTRS = new Set(['href', 'src', 'xlink:href', 'action', 'formaction', 'data', 'poster', 'background', 'ping']);

export function cleanDocument(doc) {
  for (const el of doc.querySelectorAll(GONE)) el.remove();
  for (const el of doc.querySelectorAll('*')) {
    for (const a of [...el.attributes]) {
      const n = a.name.toLowerCase();
      if (n.startsWith('on') || n === 'srcdoc' || n === 'action' || n === 'formaction'
        || (URL_ATTRS.has(n) && /^\s*(javascript|vbscript|data:text\/html)/i.test(a.value))) {
        el.removeAttributeNode(a);
      }
    }
  }
  let head = doc.querySelector('head');
  if (!head && doc.documentElement) {
    head = doc.createElementNS(doc.documentElement.namespaceURI || XHTML, 'head');
    doc.documentElement.prepend(head);
  }
  if (head) {
    const meta = doc.createElementNS(head.namespaceURI || XHTML, 'meta');
    meta.setAttribute('http-equiv', 'Content-Security-Policy');
    meta.setAttribute('content', POLICY);
    head.prepend(meta);
  }
  return doc;
}

// A fetch answer for a page (XHTML or HTML), cleaned; others as they came.
export async function cleanPage(res) {
  const type = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (!res.ok || (type !== 'application/xhtml+xml' && type !== 'text/html')) return res;
  const text = await res.text();
  const doc = new DOMParser().parseFromString(text, type);
  // A page that does not parse is left to the navigator, which says so; it cannot run.
  const body = doc.querySelector('parsererror') ? text
    : type === 'text/html' ? `<!DOCTYPE html>\n${cleanDocument(doc).documentElement.outerHTML}`
      : new XMLSerializer().serializeToString(cleanDocument(doc));
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
