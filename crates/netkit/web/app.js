// netkit web app: the shared folder, uploads and the chat room, in plain JS.
// Folders come from /_netkit/ls (the HTTP listing's JSON), files download with
// plain links, uploads are PUTs, and the room arrives as Server-Sent Events.
// With accounts (--auth) the settings name who is logged in, and each listing
// says what they may do in that folder: buttons they may not use are hidden.
'use strict';
const $ = (s) => document.querySelector(s);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
};
const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/');
// Absolute URLs for scripts' requests: a page opened as http://user:pw@host/
// has a base URL with credentials, which fetch() refuses to resolve against
// (the browser keeps the login for the requests themselves).
const at = (path) => location.origin + path;
let settings = { upload: false, chat: false, ports: {}, user: null, accounts: false };
let cwd = '/';
// What the visitor may do in the folder shown (from its listing).
let may = { upload: false, delete: false };

function size(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

// ---- files ----------------------------------------------------------------
function folderFromHash() {
  let p = decodeURIComponent(location.hash.slice(1) || '/');
  if (!p.startsWith('/')) p = '/' + p;
  return p.endsWith('/') ? p : p + '/';
}

async function list() {
  cwd = folderFromHash();
  const crumbs = $('#crumbs');
  crumbs.replaceChildren(el('a', { href: '#/', textContent: 'Files' }));
  let acc = '/';
  for (const part of cwd.split('/').filter(Boolean)) {
    acc += part + '/';
    crumbs.append(el('span', { textContent: '/' }), el('a', { href: '#' + encodePath(acc), textContent: part }));
  }
  const body = $('#files tbody');
  let data;
  try {
    const res = await fetch(at('/_netkit/ls?path=' + encodeURIComponent(cwd)));
    if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
    data = await res.json();
  } catch (e) {
    may = { upload: false, delete: false };
    $('#upload-button').hidden = true;
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 4, textContent: 'Cannot list this folder: ' + e.message })));
    return;
  }
  may = data.may || { upload: settings.upload, delete: settings.upload && settings.overwrite };
  $('#upload-button').hidden = !may.upload;
  const rows = [];
  if (cwd !== '/') {
    const up = cwd.slice(0, cwd.slice(0, -1).lastIndexOf('/') + 1);
    rows.push(el('tr', {}, el('td', {}, el('a', { href: '#' + encodePath(up), className: 'dir', textContent: '..' })), el('td'), el('td'), el('td')));
  }
  for (const f of data.entries) {
    if (f.type !== 'dir' && f.type !== 'file') continue;
    const dir = f.type === 'dir';
    const link = dir
      ? el('a', { href: '#' + encodePath(cwd + f.name + '/'), className: 'dir', textContent: f.name + '/' })
      : el('a', { href: encodePath(cwd + f.name), className: 'file', textContent: f.name, download: f.name });
    link.dataset.name = f.name;
    const when = f.modified ? new Date(f.modified * 1000).toLocaleString() : '';
    const act = el('td', { className: 'act' });
    if (!dir && may.delete) {
      act.append(el('button', { className: 'delete', type: 'button', textContent: 'Delete', title: 'Delete ' + f.name, onclick: () => remove(f.name) }));
    }
    rows.push(el('tr', {}, el('td', {}, link),
      el('td', { className: 'num', textContent: dir ? '' : size(f.size) }),
      el('td', { className: 'date', textContent: when }), act));
  }
  body.replaceChildren(...rows);
  $('#files-empty').hidden = data.entries.length > 0;
}

async function remove(name) {
  if (!confirm('Delete ' + name + '?')) return;
  const res = await fetch(at(encodePath(cwd + name)), { method: 'DELETE' });
  if (!res.ok && res.status !== 404) alert('Not deleted (' + res.status + ' ' + res.statusText + ')');
  list();
}

function upload(file) {
  const row = el('div', { className: 'upload' }, el('span', { textContent: file.name }), el('span', { textContent: '0%' }), el('progress', { max: 1, value: 0 }));
  $('#uploads').append(row);
  const [, pct, bar] = row.children;
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', at(encodePath(cwd + file.name)));
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) { bar.value = e.loaded / e.total; pct.textContent = Math.floor(100 * e.loaded / e.total) + '%'; }
  };
  xhr.onload = () => {
    const why = { 201: 'done', 204: 'done', 401: 'log in to upload', 403: 'not allowed here', 409: 'a file of that name exists', 413: 'too large', 507: 'no space left' };
    const ok = xhr.status === 201 || xhr.status === 204;
    pct.textContent = why[xhr.status] || 'failed (' + xhr.status + ')';
    bar.value = ok ? 1 : 0;
    row.classList.toggle('failed', !ok);
    if (ok) { row.classList.add('done'); setTimeout(() => row.remove(), 4000); }
    list();
  };
  xhr.onerror = () => { pct.textContent = 'connection failed'; row.classList.add('failed'); };
  xhr.send(file);
}

// The handlers are always there; they act only where the folder takes uploads.
function setUpUploads() {
  $('#upload-input').addEventListener('change', (e) => {
    for (const f of e.target.files) upload(f);
    e.target.value = '';
  });
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
    for (const f of e.dataTransfer.files) upload(f);
  });
}

// ---- chat -----------------------------------------------------------------
const chat = { token: null, name: null, members: new Set(), events: null };

function line(cls, who, text) {
  const log = $('#chat-log');
  const item = el('li', { className: cls });
  if (who) item.append(el('span', { className: 'who', textContent: who }));
  item.append(el('span', { className: 'text', textContent: text }));
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(item);
  while (log.children.length > 500) log.firstChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

function showMembers() {
  const names = [...chat.members].sort((a, b) => a.localeCompare(b));
  $('#chat-count').textContent = chat.token ? '· ' + names.length + ' here' : '';
  $('#chat-members').textContent = names.join(', ');
}

function joined(yes) {
  $('#chat-join').hidden = yes;
  $('#chat-say').hidden = !yes;
  if (yes) $('#chat-text').focus();
}

function leaveLocally(why) {
  if (chat.events) chat.events.close();
  chat.events = null;
  chat.token = null;
  chat.members.clear();
  showMembers();
  joined(false);
  if (why) line('system', '', why);
}

async function join(name) {
  $('#chat-error').textContent = '';
  const res = await fetch(at('/_netkit/chat/join'), { method: 'POST', body: name });
  if (!res.ok) {
    const why = (await res.text()).trim();
    $('#chat-error').textContent = why === 'name-taken' ? 'That name is taken.' : why === 'bad-name' ? 'Names are 1–32 characters, no spaces.' : 'Cannot join: ' + why;
    return;
  }
  const { token } = await res.json();
  chat.token = token;
  chat.name = name;
  const es = new EventSource(at('/_netkit/chat/events?token=' + encodeURIComponent(token)));
  chat.events = es;
  const on = (kind, fn) => es.addEventListener(kind, (e) => fn(JSON.parse(e.data)));
  on('welcome', (d) => { chat.members = new Set(d.members); showMembers(); joined(true); line('system', '', 'You joined as ' + name + '.'); });
  on('members', (d) => { chat.members = new Set(d.members); showMembers(); });
  on('history', (d) => line('history', d.name, d.text));
  on('message', (d) => line('message', d.name, d.text));
  on('joined', (d) => { chat.members.add(d.name); showMembers(); line('system', '', d.name + ' joined'); });
  on('left', (d) => { chat.members.delete(d.name); showMembers(); line('system', '', d.name + ' left (' + d.reason + ')'); });
  on('admin', (d) => line('admin', 'announcement', d.text));
  on('gone', (d) => leaveLocally('You are out of the room: ' + d.reason + '.'));
  es.onerror = () => { if (chat.events === es) leaveLocally('Disconnected from the room.'); };
}

async function say(text) {
  const res = await fetch(at('/_netkit/chat/say?token=' + encodeURIComponent(chat.token)), { method: 'POST', body: text });
  if (res.status === 204) { line('message mine', chat.name, text); return true; }
  const why = { 404: 'You are no longer in the room.', 413: 'That message is too long (1,000 bytes at most).', 429: 'Slow down a little.' };
  $('#chat-error').textContent = why[res.status] || 'Not sent (' + res.status + ')';
  if (res.status === 404) leaveLocally();
  return false;
}

function setUpChat() {
  if (!settings.chat) { $('main').classList.add('solo'); return; }
  $('#chat-panel').hidden = false;
  $('#chat-join').addEventListener('submit', (e) => { e.preventDefault(); join($('#chat-name').value.trim()); });
  $('#chat-say').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#chat-text');
    const text = input.value;
    if (text.trim() && await say(text)) { input.value = ''; $('#chat-error').textContent = ''; }
  });
}

// ---- stats and footer -----------------------------------------------------
async function stats() {
  try {
    const s = await (await fetch(at('/_netkit/stats'), { cache: 'no-store' })).json();
    const up = s.uptime_secs < 3600 ? Math.floor(s.uptime_secs) + ' s' : (s.uptime_secs / 3600).toFixed(1) + ' h';
    const parts = [['model', s.model], ['up', up], ['open', s.connections_open], ['requests', s.requests], ['sent', size(s.bytes_sent)]];
    if (settings.chat && chat.token) parts.push(['in chat', chat.members.size]);
    $('#stats').replaceChildren(...parts.flatMap(([k, v], i) => [i ? ' · ' : '', k + ' ', el('b', { textContent: String(v) })]));
  } catch (e) {
    $('#stats').textContent = 'server unreachable';
  }
}

// Who is logged in; without an account, a link to the browser's login prompt.
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
  const p = settings.ports;
  const ways = [];
  // Over TLS (`up --tls`), the certificate's fingerprint, to compare with the browser's.
  const pin = settings.fingerprint ? '--tls --fingerprint ' + settings.fingerprint + ' ' : '';
  if (p.files) ways.push('netkit files shell ' + pin + host + ':' + p.files);
  if (p.tftp) ways.push('curl -O tftp://' + host + ':' + p.tftp + '/FILE');
  if (p.chat) ways.push('netkit chat join ' + host + ':' + p.chat + ' NAME');
  if (p.irc) ways.push('IRC ' + host + ':' + p.irc + ' #netkit');
  if (settings.fingerprint) ways.push('TLS certificate SHA-256 ' + settings.fingerprint);
  if (!ways.length) return;
  $('#clients').replaceChildren('Also here: ', ...ways.flatMap((w, i) => [i ? ' · ' : '', el('code', { textContent: w })]));
}

async function main() {
  try { settings = await (await fetch(at('/_netkit/settings'))).json(); } catch (e) { /* defaults */ }
  who();
  setUpUploads();
  setUpChat();
  footer();
  window.addEventListener('hashchange', list);
  await list();
  stats();
  setInterval(stats, 2000);
}
main();
