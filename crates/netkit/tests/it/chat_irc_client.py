"""A real IRC client for the chat tests, built on the `irc` package (PyPI).

Usage: chat_irc_client.py HOST PORT NICK
Prints one line per event on stdout (JOINED, NAMES, PUBMSG, NOTICE, PART, QUIT,
KICK, WHO, ACTION, NICK, PRIVMSG, DISCONNECTED) and reads commands from
stdin: `say TEXT`, `me TEXT`, `nick NAME`, `msg NICK TEXT`, `who`, `quit`.
"""

import select
import sys

import irc.client

host, port, nick = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def out(*parts):
    print(*parts, flush=True)


reactor = irc.client.Reactor()
conn = reactor.server().connect(host, port, nick)
conn.add_global_handler("welcome", lambda c, e: c.join("#netkit"))
conn.add_global_handler(
    "join", lambda c, e: out("JOINED", e.source.nick, e.target)
)
conn.add_global_handler("namreply", lambda c, e: out("NAMES", e.arguments[2]))
conn.add_global_handler(
    "pubmsg", lambda c, e: out("PUBMSG", e.source.nick, e.arguments[0])
)
conn.add_global_handler("privnotice", lambda c, e: out("NOTICE", e.arguments[0]))
conn.add_global_handler("pubnotice", lambda c, e: out("PUBNOTICE", e.arguments[0]))
conn.add_global_handler("part", lambda c, e: out("PART", e.source.nick))
conn.add_global_handler("quit", lambda c, e: out("QUIT", e.source.nick))
conn.add_global_handler("kick", lambda c, e: out("KICK", e.arguments[0]))
conn.add_global_handler("whoreply", lambda c, e: out("WHO", e.arguments[4]))
conn.add_global_handler("endofwho", lambda c, e: out("ENDOFWHO"))
conn.add_global_handler(
    "action", lambda c, e: out("ACTION", e.source.nick, e.arguments[0])
)
conn.add_global_handler("nick", lambda c, e: out("NICK", e.source.nick, e.target))
conn.add_global_handler(
    "privmsg", lambda c, e: out("PRIVMSG", e.source.nick, e.arguments[0])
)
conn.add_global_handler("nicknameinuse", lambda c, e: out("NICKINUSE"))
conn.add_global_handler("disconnect", lambda c, e: (out("DISCONNECTED"), sys.exit(0)))

while True:
    reactor.process_once(0.05)
    ready, _, _ = select.select([sys.stdin], [], [], 0)
    if not ready:
        continue
    line = sys.stdin.readline()
    if not line:
        conn.quit("end of input")
        continue
    command, _, arg = line.rstrip("\n").partition(" ")
    if command == "say":
        conn.privmsg("#netkit", arg)
    elif command == "me":
        conn.action("#netkit", arg)
    elif command == "nick":
        conn.nick(arg)
    elif command == "msg":
        target, _, text = arg.partition(" ")
        conn.privmsg(target, text)
    elif command == "who":
        conn.who("#netkit")
    elif command == "quit":
        conn.quit(arg or "bye")
