// netkit web page: the shared folder (list, sort, search, ZIP, keyboard), and
// managing it with the WebDAV verbs (upload files and folders, new folder,
// rename/move, delete). preview.js shows files, chat.js runs the room.
// The server puts a plain listing in the page (it works without script); this
// script removes it and lists from /_netkit/ls, which says what the visitor
// may do here (`may`): buttons they may not use are hidden.
'use strict';
const $ = (s) => document.querySelector(s);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
};
const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/');
// Absolute URLs for scripts' requests: a page opened as http://user:pw@host/
// has a base URL with credentials, which fetch() refuses to resolve against.
const at = (path) => location.origin + path;
let settings = { upload: false, chat: false, ports: {}, user: null, accounts: false };
let cwd = '/';
let may = { upload: false, delete: false };
let entries = [];
const order = { key: 'name', desc: false };
// At /_netkit/ (a root with its own index.html) folders live in the hash.
const hashMode = location.pathname.startsWith('/_netkit/');

function size(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function date(secs) {
  if (!secs) return '';
  const d = new Date(secs * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
}

// ---- where we are ---------------------------------------------------------
function folderFromLocation() {
  let p = hashMode ? decodeURIComponent(location.hash.slice(1) || '/') : decodeURIComponent(location.pathname);
  if (!p.startsWith('/')) p = '/' + p;
  return p.endsWith('/') ? p : p + '/';
}
const folderHref = (path) => (hashMode ? '#' : '') + encodePath(path);
const parentOf = (path) => path.slice(0, path.slice(0, -1).lastIndexOf('/') + 1);

function go(path) {
  if (hashMode) { location.hash = '#' + encodePath(path); return; }
  history.pushState(null, '', encodePath(path));
  list();
}

function crumbs() {
  const nav = $('#crumbs');
  nav.replaceChildren(el('a', { href: folderHref('/'), textContent: 'Files', onclick: follow('/') }));
  let acc = '/';
  for (const part of cwd.split('/').filter(Boolean)) {
    acc += part + '/';
    nav.append(el('span', { textContent: '/' }), el('a', { href: folderHref(acc), textContent: part, onclick: follow(acc) }));
  }
}

// A click on a folder link navigates in the page (a middle click still opens a tab).
function follow(path) {
  return (e) => {
    if (e.button || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    go(path);
  };
}

// ---- listing ---------------------------------------------------------------
async function list() {
  cwd = folderFromLocation();
  document.title = (cwd === '/' ? '' : cwd.split('/').filter(Boolean).pop() + ' — ') + 'netkit';
  crumbs();
  $('#search-input').value = '';
  $('#search-note').hidden = true;
  $('#zip').href = encodePath(cwd) + '?zip';
  try {
    const res = await fetch(at('/_netkit/ls?path=' + encodeURIComponent(cwd)));
    if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
    const data = await res.json();
    may = data.may || { upload: false, delete: false };
    entries = data.entries.filter((f) => f.type === 'dir' || f.type === 'file');
  } catch (e) {
    may = { upload: false, delete: false };
    entries = [];
    showTools();
    // The server's own listing, when there is one, is still good to use.
    if ($('#static')) return;
    takeOver();
    $('#files tbody').replaceChildren(el('tr', {}, el('td', { colSpan: 4, textContent: 'Cannot list this folder: ' + e.message })));
    return;
  }
  takeOver();
  showTools();
  render(entries, false);
  qr();
}

// The script's list replaces the server's once it has one.
function takeOver() {
  $('#static')?.remove();
  $('#files').hidden = false;
  $('#tools').hidden = false;
  $('#search').hidden = false;
}

function showTools() {
  $('#upload-button').hidden = !may.upload;
  $('#upload-dir-button').hidden = !may.upload;
  $('#mkdir-button').hidden = !may.upload;
}

function sorted(rows) {
  const key = order.key;
  // A folder's size says nothing of its contents: folders sort by name then.
  const by = (a, b) => key === 'size' && a.type !== 'dir' ? a.size - b.size
    : key === 'mtime' ? (a.modified || 0) - (b.modified || 0)
      : a.name.localeCompare(b.name, undefined, { sensitivity: 'base', numeric: true });
  return [...rows].sort((a, b) => {
    if ((a.type === 'dir') !== (b.type === 'dir')) return a.type === 'dir' ? -1 : 1;
    const c = by(a, b) || a.name.localeCompare(b.name);
    return order.desc ? -c : c;
  });
}

function sortHeaders() {
  for (const th of document.querySelectorAll('#files th[data-key]')) {
    const on = th.dataset.key === order.key;
    th.setAttribute('aria-sort', on ? (order.desc ? 'descending' : 'ascending') : 'none');
    th.classList.toggle('sorted', on);
    th.classList.toggle('desc', on && order.desc);
  }
}

// `rows` are a folder's entries, or search results (names are paths below cwd).
function render(rows, searching) {
  sortHeaders();
  const body = $('#files tbody');
  const out = [];
  if (cwd !== '/' && !searching) {
    const up = parentOf(cwd);
    out.push(el('tr', {}, el('td', {}, el('a', { href: folderHref(up), className: 'dir up', textContent: '..', onclick: follow(up) })), el('td'), el('td', { className: 'date' }), el('td')));
  }
  for (const f of sorted(rows)) out.push(row(f));
  body.replaceChildren(...out);
  $('#files-empty').hidden = rows.length > 0;
  $('#files-empty').textContent = searching ? 'Nothing found.' : 'This folder is empty.';
}

function row(f) {
  const dir = f.type === 'dir';
  const path = cwd + f.name + (dir ? '/' : '');
  const link = dir
    ? el('a', { href: folderHref(path), className: 'dir', textContent: f.name + '/', onclick: follow(path) })
    : el('a', { href: encodePath(path), className: 'file', textContent: f.name });
  if (!dir) {
    if (canPreview(f.name)) link.addEventListener('click', (e) => { if (!e.button && !e.ctrlKey && !e.metaKey) { e.preventDefault(); preview(path, f); } });
    else link.download = f.name.split('/').pop();
  }
  link.dataset.name = f.name;
  const act = el('td', { className: 'act' });
  if (may.delete) {
    act.append(
      el('button', { className: 'rename', type: 'button', textContent: 'Rename', title: 'Rename or move ' + f.name, onclick: () => rename(f) }),
      el('button', { className: 'delete', type: 'button', textContent: 'Delete', title: 'Delete ' + f.name, onclick: () => remove(f) }));
  }
  return el('tr', {}, el('td', { className: 'name' }, link),
    el('td', { className: 'num', textContent: dir ? '' : size(f.size), title: dir ? '' : f.size + ' bytes' }),
    el('td', { className: 'date', textContent: date(f.modified) }), act);
}

// ---- search ----------------------------------------------------------------
async function search(text) {
  if (!text) { list(); return; }
  const note = $('#search-note');
  try {
    const res = await fetch(at(encodePath(cwd) + '?q=' + encodeURIComponent(text)), { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
    const data = await res.json();
    note.firstChild.textContent = data.results.length + ' found for “' + text + '”' + (data.truncated ? ' (' + data.truncated_because + ')' : '');
    render(data.results.filter((f) => f.type === 'dir' || f.type === 'file'), true);
  } catch (e) {
    note.firstChild.textContent = 'Search failed: ' + e.message;
  }
  note.hidden = false;
}

// ---- managing files (WebDAV verbs) ------------------------------------------
const why = { 401: 'log in first', 403: 'not allowed here', 404: 'not found', 405: 'it exists already', 409: 'the folder is missing or the name is taken', 412: 'that name is taken', 413: 'too large', 507: 'no space left' };
const failed = (res) => why[res.status] || res.status + ' ' + res.statusText;

async function makeFolder() {
  const name = (prompt('New folder name') || '').trim();
  if (!name) return;
  const res = await fetch(at(encodePath(cwd + name.replace(/\/+$/, '') + '/')), { method: 'MKCOL' });
  if (!res.ok) alert('Folder not made: ' + failed(res));
  list();
}

// A new name, or a path (relative to this folder, or from the root with a
// leading /) moves it.
async function rename(f) {
  const dir = f.type === 'dir';
  const answer = (prompt('Rename or move "' + f.name + '" to (a name, or a path like /other/folder/name):', f.name) || '').trim();
  if (!answer || answer === f.name) return;
  let dest = answer.startsWith('/') ? answer : cwd + answer;
  dest = dest.replace(/\/+$/, '') + (dir ? '/' : '');
  const res = await fetch(at(encodePath(cwd + f.name + (dir ? '/' : ''))), {
    method: 'MOVE', headers: { Destination: at(encodePath(dest)), Overwrite: 'F' },
  });
  if (!res.ok) alert('Not moved: ' + failed(res));
  list();
}

async function remove(f) {
  const dir = f.type === 'dir';
  if (!confirm(dir ? 'Delete the folder ' + f.name + ' and everything in it?' : 'Delete ' + f.name + '?')) return;
  const res = await fetch(at(encodePath(cwd + f.name + (dir ? '/' : ''))), { method: 'DELETE' });
  if (!res.ok && res.status !== 404) alert('Not deleted: ' + failed(res));
  list();
}

// ---- keyboard --------------------------------------------------------------
// Arrows (and Home, End) move through the list, Enter opens (the focused
// link), Backspace goes up.
function setUpKeys() {
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || $('#preview').open) return;
    const t = e.target;
    if (t.matches && t.matches('input, textarea, select, [contenteditable]')) return;
    const links = [...document.querySelectorAll('#files tbody td.name a, #files tbody a.up')];
    const i = links.indexOf(document.activeElement);
    const moves = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      if (!links.length) return;
      e.preventDefault();
      const step = moves[e.key];
      const next = i < 0 && Math.abs(step) === 1 ? 0 : Math.max(0, Math.min(links.length - 1, (i < 0 ? 0 : i) + step));
      links[next].focus();
      links[next].scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Backspace' && cwd !== '/') {
      e.preventDefault();
      go(parentOf(cwd));
    }
  });
}

// ---- uploads -----------------------------------------------------------------
// Files go up three at a time; a folder's folders are made first (MKCOL).
const queue = [];
let running = 0;

function enqueue(file, path) {
  const task = { file, path, xhr: null, cancelled: false };
  const cancel = el('button', { type: 'button', className: 'cancel', textContent: 'Cancel' });
  task.row = el('div', { className: 'upload' }, el('span', { className: 'up-name', textContent: path.slice(cwd.length) || file.name }),
    el('span', { className: 'up-state', textContent: 'waiting' }), cancel, el('progress', { max: 1, value: 0 }));
  cancel.onclick = () => { task.cancelled = true; if (task.xhr) task.xhr.abort(); finish(task, false, 'cancelled'); };
  $('#uploads').append(task.row);
  queue.push(task);
  pump();
}

function pump() {
  while (running < 3 && queue.length) {
    const task = queue.shift();
    if (task.cancelled) continue;
    running++;
    send(task);
  }
}

function finish(task, ok, text) {
  task.row.querySelector('.up-state').textContent = text;
  const cancel = task.row.querySelector('.cancel');
  if (cancel) cancel.remove();
  task.row.classList.add(ok ? 'done' : 'failed');
  if (ok) setTimeout(() => task.row.remove(), 4000);
}

function send(task) {
  const state = task.row.querySelector('.up-state');
  const bar = task.row.querySelector('progress');
  const xhr = new XMLHttpRequest();
  task.xhr = xhr;
  const started = performance.now();
  xhr.open('PUT', at(encodePath(task.path)));
  xhr.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    bar.value = e.total ? e.loaded / e.total : 1;
    const secs = (performance.now() - started) / 1000;
    state.textContent = Math.floor(100 * bar.value) + '% · ' + (secs > 0.2 ? size(Math.round(e.loaded / secs)) + '/s' : '');
  };
  const done = () => { running--; pump(); if (!running && !queue.length) list(); };
  xhr.onload = () => {
    const ok = xhr.status === 201 || xhr.status === 204;
    if (ok) bar.value = 1;
    finish(task, ok, ok ? 'done' : (why[xhr.status] || 'failed (' + xhr.status + ')'));
    done();
  };
  xhr.onerror = () => { finish(task, false, 'connection failed'); done(); };
  xhr.onabort = () => done();
  xhr.send(task.file);
}

// Makes the folders (parents first; one that exists already is fine).
async function makeFolders(dirs) {
  for (const d of [...new Set(dirs)].sort((a, b) => a.split('/').length - b.split('/').length)) {
    const res = await fetch(at(encodePath(d)), { method: 'MKCOL' });
    if (!res.ok && res.status !== 405) throw new Error(d + ': ' + failed(res));
  }
}

// `files`: [File, path below cwd] pairs; `dirs`: folders below cwd (with /).
async function uploadAll(files, dirs) {
  if (!may.upload) return;
  const base = cwd;
  for (const [, rel] of files) {
    const parts = rel.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.push(parts.slice(0, i).join('/') + '/');
  }
  try {
    await makeFolders(dirs.map((d) => base + d));
  } catch (e) {
    alert('Upload stopped: ' + e.message);
    return;
  }
  for (const [file, rel] of files) enqueue(file, base + rel);
  if (!files.length) list();
}

// Walks what was dropped: files, and folders through their entries.
async function dropped(dataTransfer) {
  const files = [];
  const dirs = [];
  const entries = [...dataTransfer.items].map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.some(Boolean)) {
    for (const f of dataTransfer.files) files.push([f, f.name]);
    return uploadAll(files, dirs);
  }
  const fileOf = (entry) => new Promise((ok, fail) => entry.file(ok, fail));
  const readAll = async (dir) => {
    const reader = dir.createReader();
    const all = [];
    for (;;) {
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) return all;
      all.push(...batch);
    }
  };
  const walk = async (entry, prefix) => {
    if (entry.isFile) files.push([await fileOf(entry), prefix + entry.name]);
    else if (entry.isDirectory) {
      dirs.push(prefix + entry.name + '/');
      for (const child of await readAll(entry)) await walk(child, prefix + entry.name + '/');
    }
  };
  for (const entry of entries.filter(Boolean)) await walk(entry, '');
  return uploadAll(files, dirs);
}

function setUpUploads() {
  $('#upload-input').addEventListener('change', (e) => {
    uploadAll([...e.target.files].map((f) => [f, f.name]), []);
    e.target.value = '';
  });
  $('#upload-dir-input').addEventListener('change', (e) => {
    uploadAll([...e.target.files].map((f) => [f, f.webkitRelativePath || f.name]), []);
    e.target.value = '';
  });
  $('#mkdir-button').addEventListener('click', makeFolder);
  let depth = 0;
  const hint = $('#drop-hint');
  document.addEventListener('dragenter', (e) => { if (!may.upload) return; e.preventDefault(); depth++; hint.hidden = false; });
  document.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; hint.hidden = true; } });
  document.addEventListener('dragover', (e) => { if (may.upload) e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    if (!may.upload) return;
    e.preventDefault();
    depth = 0;
    hint.hidden = true;
    dropped(e.dataTransfer);
  });
}

// ---- header, footer, QR ----------------------------------------------------
async function stats() {
  try {
    const s = await (await fetch(at('/_netkit/stats'), { cache: 'no-store' })).json();
    const up = s.uptime_secs < 3600 ? Math.floor(s.uptime_secs) + ' s' : (s.uptime_secs / 3600).toFixed(1) + ' h';
    const parts = [['model', s.model], ['up', up], ['open', s.connections_open], ['requests', s.requests], ['sent', size(s.bytes_sent)]];
    if (settings.chat && typeof chat !== 'undefined' && chat.token) parts.push(['in chat', chat.members.size]);
    $('#stats').replaceChildren(...parts.flatMap(([k, v], i) => [i ? ' · ' : '', k + ' ', el('b', { textContent: String(v) })]));
  } catch (e) {
    $('#stats').textContent = 'server unreachable';
  }
}

function who() {
  const box = $('#who');
  if (settings.user) {
    box.replaceChildren('Logged in as ', el('b', { id: 'who-user', textContent: settings.user }));
  } else if (settings.accounts) {
    const back = location.pathname + location.hash;
    box.replaceChildren(el('span', { id: 'who-user', textContent: 'anonymous' }),
      el('a', { id: 'login', href: '/_netkit/login?to=' + encodeURIComponent(back), textContent: 'Log in' }));
  }
}

function footer() {
  const host = location.hostname.includes(':') ? '[' + location.hostname + ']' : location.hostname;
  const p = settings.ports || {};
  const ways = [];
  const pin = settings.fingerprint ? '--tls --fingerprint ' + settings.fingerprint + ' ' : '';
  if (p.files) ways.push('netkit files shell ' + pin + host + ':' + p.files);
  if (p.tftp) ways.push('curl -O tftp://' + host + ':' + p.tftp + '/FILE');
  if (p.chat) ways.push('netkit chat join ' + host + ':' + p.chat + ' NAME');
  if (p.irc) ways.push('IRC ' + host + ':' + p.irc + ' #netkit');
  if (settings.fingerprint) ways.push('TLS certificate SHA-256 ' + settings.fingerprint);
  if (!ways.length) return;
  $('#clients').replaceChildren('Also here: ', ...ways.flatMap((w, i) => [i ? ' · ' : '', el('code', { textContent: w })]));
}

// The QR code of the address (without a login in it), drawn by the server.
function qr() {
  const url = location.origin + location.pathname + location.hash;
  $('#qr-image').src = '/_netkit/qr.svg?u=' + encodeURIComponent(url);
  $('#qr').hidden = false;
}

async function main() {
  try { settings = await (await fetch(at('/_netkit/settings'))).json(); } catch (e) { /* defaults */ }
  document.body.classList.toggle('solo', !settings.chat);
  who();
  setUpUploads();
  setUpKeys();
  setUpPreview();
  if (typeof setUpChat === 'function') setUpChat();
  footer();
  for (const th of document.querySelectorAll('#files th[data-key]')) {
    th.querySelector('button').addEventListener('click', () => {
      order.desc = order.key === th.dataset.key ? !order.desc : false;
      order.key = th.dataset.key;
      if ($('#search-note').hidden) render(entries, false); else search($('#search-input').value.trim());
    });
  }
  $('#search').addEventListener('submit', (e) => { e.preventDefault(); search($('#search-input').value.trim()); });
  $('#search-clear').addEventListener('click', list);
  window.addEventListener(hashMode ? 'hashchange' : 'popstate', list);
  const q = new URLSearchParams(location.search);
  if (['name', 'size', 'mtime'].includes(q.get('sort'))) order.key = q.get('sort');
  order.desc = q.get('order') === 'desc';
  await list();
  if (q.get('q')) { $('#search-input').value = q.get('q'); search(q.get('q')); }
  stats();
  setInterval(stats, 2000);
}
main();
