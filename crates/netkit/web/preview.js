// Previews in the page: images, audio and video with the browser's players,
// PDFs in the browser's viewer (a frame of the file, which the server serves
// sandboxed), text as text, and Markdown through a small renderer that only
// ever makes elements and text nodes: nothing of a file is parsed as HTML,
// so no script from the share runs as the page.
'use strict';
const KINDS = {
  image: ['png', 'jpg', 'jpeg', 'gif', 'webp', 'avif', 'bmp', 'ico', 'svg'],
  video: ['mp4', 'webm', 'ogv', 'mov', 'm4v'],
  audio: ['mp3', 'ogg', 'oga', 'opus', 'wav', 'flac', 'm4a', 'aac'],
  pdf: ['pdf'],
  markdown: ['md', 'markdown'],
  text: ['txt', 'log', 'csv', 'tsv', 'json', 'js', 'mjs', 'ts', 'rs', 'py', 'rb', 'go', 'c', 'h', 'cc', 'cpp', 'hpp', 'java',
    'kt', 'sh', 'bash', 'zsh', 'toml', 'yaml', 'yml', 'ini', 'cfg', 'conf', 'xml', 'html', 'htm', 'css', 'sql', 'diff', 'patch', 'srt', 'vtt'],
};
// Text past this is cut (a preview, not an editor).
const MAX_TEXT = 2 * 1024 * 1024;

function kindOf(name) {
  const ext = name.includes('.') ? name.split('.').pop().toLowerCase() : '';
  for (const [kind, exts] of Object.entries(KINDS)) if (exts.includes(ext)) return kind;
  return null;
}
const canPreview = (name) => kindOf(name) !== null;

async function preview(path, f) {
  const url = encodePath(path);
  const dialog = document.querySelector('#preview');
  const body = document.querySelector('#preview-body');
  document.querySelector('#preview-name').textContent = f.name;
  const dl = document.querySelector('#preview-download');
  dl.href = url;
  dl.download = f.name.split('/').pop();
  const kind = kindOf(f.name);
  body.className = 'kind-' + kind;
  body.replaceChildren();
  if (kind === 'image') body.append(el('img', { src: url, alt: f.name }));
  else if (kind === 'video') body.append(el('video', { src: url, controls: true, autoplay: false }));
  else if (kind === 'audio') body.append(el('audio', { src: url, controls: true }));
  else if (kind === 'pdf') body.append(el('iframe', { src: url, title: f.name }));
  if (!dialog.open) dialog.showModal();
  if (kind !== 'text' && kind !== 'markdown') return;
  try {
    const res = await fetch(at(url), { headers: { Range: 'bytes=0-' + (MAX_TEXT - 1) } });
    if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
    const text = await res.text();
    const cut = f.size > MAX_TEXT ? el('p', { className: 'cut', textContent: 'Only the first ' + size(MAX_TEXT) + ' are shown.' }) : '';
    if (kind === 'markdown') body.append(markdown(text, path), cut);
    else body.append(el('pre', { textContent: text }), cut);
  } catch (e) {
    body.append(el('p', { textContent: 'Cannot show this file: ' + e.message }));
  }
}

// ---- Markdown: blocks, then a few inline rules; text stays text ------------
function markdown(src, path) {
  const root = el('article', { className: 'markdown' });
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const base = path.slice(0, path.lastIndexOf('/') + 1);
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) root.append(inline(el('p'), para.join(' '), base));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = /^\s*(```|~~~)/.exec(line))) {
      flush(); list = null;
      const fence = m[1];
      const code = [];
      while (++i < lines.length && !lines[i].trim().startsWith(fence)) code.push(lines[i]);
      root.append(el('pre', {}, el('code', { textContent: code.join('\n') })));
    } else if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
      flush(); list = null;
      root.append(inline(el('h' + m[1].length), m[2], base));
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush(); list = null;
      root.append(el('hr'));
    } else if ((m = /^\s*>\s?(.*)$/.exec(line))) {
      flush(); list = null;
      root.append(inline(el('blockquote'), m[1], base));
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line))) {
      flush();
      const tag = /\d/.test(m[1]) ? 'ol' : 'ul';
      if (!list || list.tagName.toLowerCase() !== tag) { list = el(tag); root.append(list); }
      list.append(inline(el('li'), m[2], base));
    } else if (!line.trim()) {
      flush(); list = null;
    } else if (list && /^\s+\S/.test(line)) {
      inline(list.lastChild, ' ' + line.trim(), base);
    } else {
      list = null;
      para.push(line.trim());
    }
  }
  flush();
  return root;
}

// Only http(s), mailto and relative links; a relative one is the share's file.
function safeHref(href, base) {
  if (/^(https?:|mailto:)/i.test(href)) return href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) return null;
  if (href.startsWith('#')) return null;
  return href.startsWith('/') ? href : base + href;
}

function inline(parent, text, base) {
  const rule = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|!?\[([^\]]*)\]\(([^)\s]+)\)/g;
  let last = 0;
  let m;
  while ((m = rule.exec(text))) {
    parent.append(text.slice(last, m.index));
    last = rule.lastIndex;
    if (m[1] !== undefined) parent.append(el('code', { textContent: m[1] }));
    else if (m[2] !== undefined || m[3] !== undefined) parent.append(el('strong', { textContent: m[2] ?? m[3] }));
    else if (m[4] !== undefined || m[5] !== undefined) parent.append(el('em', { textContent: m[4] ?? m[5] }));
    else {
      const href = safeHref(m[7], base);
      parent.append(href ? el('a', { href, textContent: m[6] || m[7], target: '_blank', rel: 'noopener noreferrer' }) : m[6]);
    }
  }
  parent.append(text.slice(last));
  return parent;
}

function setUpPreview() {
  const dialog = document.querySelector('#preview');
  document.querySelector('#preview-close').addEventListener('click', () => dialog.close());
  // Closing stops a playing video or sound.
  dialog.addEventListener('close', () => document.querySelector('#preview-body').replaceChildren());
  dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
}
