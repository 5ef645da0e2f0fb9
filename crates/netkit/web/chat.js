// The chat room in the page (`up` only): join with a name, read the room as
// Server-Sent Events, speak with POSTs. Typed commands as in `netkit chat
// join`: `/me text` (an action, shown `* name text`), `/nick NAME`, and
// `/msg NAME text` (private: only NAME gets it, marked so on both sides).
'use strict';
const chat = { token: null, name: null, members: new Set(), events: null };

function line(cls, who, text) {
  const log = document.querySelector('#chat-log');
  const item = el('li', { className: cls });
  if (who) item.append(el('span', { className: 'who', textContent: who }));
  item.append(el('span', { className: 'text', textContent: text }));
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(item);
  while (log.children.length > 500) log.firstChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}
const action = (cls, name, text) => line('action ' + cls, '', '* ' + name + ' ' + text);

function showMembers() {
  const names = [...chat.members].sort((a, b) => a.localeCompare(b));
  document.querySelector('#chat-count').textContent = chat.token ? '· ' + names.length + ' here' : '';
  document.querySelector('#chat-members').textContent = names.join(', ');
}

function joined(yes) {
  document.querySelector('#chat-join').hidden = yes;
  document.querySelector('#chat-say').hidden = !yes;
  if (yes) document.querySelector('#chat-text').focus();
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

const chatError = (text) => { document.querySelector('#chat-error').textContent = text; };

async function join(name) {
  chatError('');
  const res = await fetch(at('/_netkit/chat/join'), { method: 'POST', body: name });
  if (!res.ok) {
    const why = (await res.text()).trim();
    chatError(why === 'name-taken' ? 'That name is taken.' : why === 'bad-name' ? 'Names are 1–32 characters, no spaces.' : 'Cannot join: ' + why);
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
  on('history', (d) => (d.action ? action('history', d.name, d.text) : line('history', d.name, d.text)));
  on('message', (d) => line('message', d.name, d.text));
  on('action', (d) => action('', d.name, d.text));
  on('told', (d) => line('message private', d.from + ' (private)', d.text));
  on('renamed', (d) => {
    // Our own rename, already shown when the server answered.
    if (d.new === chat.name && !chat.members.has(d.old)) return;
    chat.members.delete(d.old);
    chat.members.add(d.new);
    if (d.old === chat.name) chat.name = d.new;
    showMembers();
    line('system', '', d.old + ' is now ' + d.new);
  });
  on('joined', (d) => { chat.members.add(d.name); showMembers(); line('system', '', d.name + ' joined'); });
  on('left', (d) => { chat.members.delete(d.name); showMembers(); line('system', '', d.name + ' left (' + d.reason + ')'); });
  on('admin', (d) => line('admin', 'announcement', d.text));
  on('gone', (d) => leaveLocally('You are out of the room: ' + d.reason + '.'));
  es.onerror = () => { if (chat.events === es) leaveLocally('Disconnected from the room.'); };
}

// A typed line: a command, or a message. Returns whether it was sent.
async function say(typed) {
  let route = 'say';
  let body = typed;
  const m = /^\/(\w+)(?:\s+([\s\S]*))?$/.exec(typed);
  if (m && !typed.startsWith('//')) {
    const arg = (m[2] || '').trim();
    if (m[1] === 'me' && arg) route = 'me';
    else if (m[1] === 'nick' && arg) route = 'nick';
    else if (m[1] === 'msg' && /^\S+\s+\S/.test(arg)) route = 'tell';
    else { chatError('Commands: /me TEXT, /nick NAME, /msg NAME TEXT'); return false; }
    body = arg;
  } else if (typed.startsWith('//')) {
    body = typed.slice(1);
  }
  const res = await fetch(at('/_netkit/chat/' + route + '?token=' + encodeURIComponent(chat.token)), { method: 'POST', body });
  if (res.ok) {
    if (route === 'say') line('message mine', chat.name, body);
    else if (route === 'me') action('mine', chat.name, body);
    else if (route === 'tell') {
      const [to, ...rest] = body.split(' ');
      line('message mine private', '→ ' + to + ' (private)', rest.join(' '));
    } else if (route === 'nick' && chat.name !== body) {
      chat.members.delete(chat.name);
      chat.members.add(body);
      line('system', '', 'You are now ' + body);
      chat.name = body;
      showMembers();
    }
    return true;
  }
  const reason = (await res.text()).trim();
  const why = {
    'name-taken': 'That name is taken.', 'bad-name': 'Names are 1–32 characters, no spaces.',
    'no-such-member': 'Nobody here has that name.', 'rate-limited': 'Slow down a little.',
  };
  const byStatus = { 404: 'You are no longer in the room.', 413: 'That message is too long (1,000 bytes at most).', 429: 'Slow down a little.' };
  chatError(why[reason] || byStatus[res.status] || 'Not sent (' + res.status + ')');
  if (res.status === 404 && reason === 'not-joined') leaveLocally();
  return false;
}

function setUpChat() {
  if (!settings.chat) return;
  document.querySelector('#chat-panel').hidden = false;
  document.querySelector('#chat-join').addEventListener('submit', (e) => { e.preventDefault(); join(document.querySelector('#chat-name').value.trim()); });
  document.querySelector('#chat-say').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = document.querySelector('#chat-text');
    const text = input.value;
    if (text.trim() && await say(text)) { input.value = ''; chatError(''); }
  });
}
