// Chat messages as Markdown (CommonMark + GFM) through the vendored marked, with code highlighted by
// highlight.js and every result sanitized by DOMPurify before it reaches the page. Raw HTML in a
// message is shown as the text it is, never parsed: a model writing "<div>" or a participant pasting
// a <script> sees exactly what was written. Links keep only http(s) and mailto targets and open in a
// new tab with rel="noopener noreferrer". See vendor/README.md for the libraries.
import { Marked } from '/vendor/marked-18.3.0/marked.esm.js';
import hljs from '/vendor/highlightjs-11.12.0/highlight.min.js';

// DOMPurify ships its minified build as UMD only: index.html loads it as a classic script first.
const DOMPurify = window.DOMPurify;

const escapeHtml = text => text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// While an answer streams, its finished code blocks are re-rendered every frame: highlight each once.
const highlighted = new Map();
function highlight(code, language) {
  const key = `${language}\u0000${code}`;
  let html = highlighted.get(key);
  if (html === undefined) {
    html = language
      ? hljs.highlight(code, { language, ignoreIllegals: true }).value
      : escapeHtml(code);
    if (highlighted.size > 200) highlighted.clear();
    highlighted.set(key, html);
  }
  return html;
}

const marked = new Marked({
  gfm: true,
  breaks: true, // chat text: a single newline is a line break, as people and models mean it
  renderer: {
    html: ({ text }) => escapeHtml(text),
    code({ text, lang }) {
      const language = (lang || '').trim().split(/\s+/)[0].toLowerCase();
      const label = language ? `<span class="code-lang">${escapeHtml(language)}</span>` : '';
      return `<div class="code-block">${label}<pre><code class="hljs${language ? ` language-${escapeHtml(language)}` : ''}"`
        + `>${highlight(text, hljs.getLanguage(language) ? language : '')}</code></pre></div>`;
    },
    // No pictures from a message (a tracking pixel, a huge image): a link to it instead.
    image: ({ href, text }) => `<a href="${escapeHtml(href ?? '')}">${escapeHtml(text || href || 'image')}</a>`,
  },
});

const SAFE_LINK = /^(https?:|mailto:)/i;
DOMPurify.addHook('afterSanitizeAttributes', node => {
  if (node.tagName !== 'A') return;
  const href = node.getAttribute('href');
  if (href === null || !SAFE_LINK.test(href.trim())) {
    node.removeAttribute('href');
    return;
  }
  node.setAttribute('target', '_blank');
  node.setAttribute('rel', 'noopener noreferrer nofollow');
});

const PURIFY = {
  FORBID_TAGS: ['img', 'style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'svg', 'math'],
  FORBID_ATTR: ['style', 'id', 'name'],
  ADD_ATTR: ['target'],
};

const FRAGMENT = { ...PURIFY, RETURN_DOM_FRAGMENT: true };
const shown = new WeakMap(); // container -> [{ raw, nodes }], one entry per top-level block

/**
 * Renders {@code markdown} as the content of {@code container}, keeping the nodes of the leading
 * blocks whose source has not changed since the last call: while an answer streams only its last
 * block or two change, so a long answer costs about as much per frame as a short one. Each new
 * block's sanitized nodes pass through {@code decorate} before they are shown. With reference
 * links ("[x][1]" and "[1]: url" further down) every block is rendered again: a late definition
 * changes earlier blocks.
 */
export function renderInto(container, markdown, decorate = () => {}) {
  const tokens = marked.lexer(markdown);
  const fresh = Object.keys(tokens.links).length > 0;
  const before = fresh ? [] : shown.get(container) ?? [];
  if (fresh || before.length === 0) container.replaceChildren();
  let kept = 0;
  while (kept < before.length && kept < tokens.length && before[kept].raw === tokens[kept].raw) {
    kept += 1;
  }
  for (const block of before.slice(kept)) block.nodes.forEach(node => node.remove());
  const after = before.slice(0, kept);
  for (const token of tokens.slice(kept)) {
    const one = [token];
    one.links = tokens.links;
    const fragment = DOMPurify.sanitize(marked.parser(one), FRAGMENT);
    decorate(fragment);
    after.push({ raw: token.raw, nodes: [...fragment.childNodes] });
    container.append(fragment);
  }
  shown.set(container, after);
}
