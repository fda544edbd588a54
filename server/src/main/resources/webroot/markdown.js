// A small, safe Markdown renderer for chat messages. Everything is HTML-escaped first; only the
// tags made here are added, and a link keeps its href only for http(s) and mailto URLs. So neither
// a model nor a participant can inject markup or script.

const escapeHtml = text => text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function inline(escaped) {
  return escaped
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (all, label, url) => {
      const raw = url.replace(/&amp;/g, '&');
      return /^(https?:\/\/|mailto:)/i.test(raw)
        ? `<a href="${url}" target="_blank" rel="noopener noreferrer nofollow">${label}</a>`
        : label;
    });
}

/** Markdown text → HTML string, safe to assign to innerHTML. */
export function render(markdown) {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let list = null;
  let paragraph = [];
  let code = null;
  const closeParagraph = () => {
    if (paragraph.length) {
      out.push(`<p>${paragraph.map(l => inline(escapeHtml(l))).join('<br>')}</p>`);
      paragraph = [];
    }
  };
  const closeList = () => {
    if (list) {
      out.push(`<${list.tag}>${list.items.map(i => `<li>${inline(escapeHtml(i))}</li>`).join('')}</${list.tag}>`);
      list = null;
    }
  };
  for (const line of lines) {
    if (code !== null) {
      if (/^```/.test(line)) {
        out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
        code = null;
      } else {
        code.push(line);
      }
      continue;
    }
    if (/^```/.test(line)) {
      closeParagraph(); closeList();
      code = [];
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      closeParagraph(); closeList();
      const level = Math.min(6, heading[1].length + 2);
      out.push(`<h${level}>${inline(escapeHtml(heading[2]))}</h${level}>`);
    } else if (bullet || numbered) {
      closeParagraph();
      const tag = bullet ? 'ul' : 'ol';
      if (!list || list.tag !== tag) {
        closeList();
        list = { tag, items: [] };
      }
      list.items.push((bullet || numbered)[1]);
    } else if (line.trim() === '') {
      closeParagraph(); closeList();
    } else {
      closeList();
      paragraph.push(line);
    }
  }
  if (code !== null) {
    out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`); // an answer still streaming its code block
  }
  closeParagraph(); closeList();
  return out.join('');
}
