//! Room events as Redis stream entries, and the Lua scripts that keep name
//! claims atomic.
//!
//! An entry's fields: `o` the instance it came from, `q` that instance's room's
//! event number (0: news to the other instances only — a member re-announced
//! after an outage, a farewell, a dead instance's members), `t` its type (`j`
//! joined, `s` said, `m` an action (`ME`), `r` renamed (`n` the old name, `x`
//! the new), `p` a private message (`TELL`: `n` the sender, `r` the member
//! it is for, `x` the text), `l` left, `a` admin, `k` kick: a request to the
//! instance that has member `n` to remove it), `n` the name, `x` the text or
//! the reason.
//! An instance skips entries it cannot decode (an older one skips `k`).

use netkit_proto::chat::event::LeaveReason;

use netkit_proto::chat::link::Shared;
use std::sync::Arc;

/// Claims KEYS[1] for ARGV[1] for ARGV[2] ms, if free or already ARGV[1]'s.
pub(super) const CLAIM: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// Deletes each of KEYS held by ARGV[1].
pub(super) const RELEASE: &str = r#"
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 0
"#;

/// Refreshes (or re-takes, when free) each of KEYS for ARGV[1]; returns the
/// keys someone else holds now.
pub(super) const REFRESH: &str = r#"
local lost = {}
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  elseif v == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
  else
    table.insert(lost, k)
  end
end
return lost
"#;

/// One decoded stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The instance it came from.
    pub origin: String,
    /// What happened.
    pub event: Shared,
    /// Its room's event number (0: not news to its own instance).
    pub number: u64,
}

/// The fields of the stream entry for `event`, from instance `origin`.
pub(super) fn fields(origin: &str, number: u64, event: &Shared) -> Vec<(&'static str, String)> {
    let mut to = None;
    let (t, n, x) = match event {
        Shared::Joined { name } => ("j", name.to_string(), String::new()),
        Shared::Said { name, text } => ("s", name.to_string(), text.to_string()),
        Shared::Acted { name, text } => ("m", name.to_string(), text.to_string()),
        Shared::Renamed { old, new } => ("r", old.to_string(), new.to_string()),
        Shared::Told {
            from,
            to: them,
            text,
        } => {
            to = Some(them.to_string());
            ("p", from.to_string(), text.to_string())
        }
        Shared::Left { name, reason } => ("l", name.to_string(), reason_text(reason)),
        Shared::Admin { text } => ("a", String::new(), text.to_string()),
        Shared::Kick { name } => ("k", name.to_string(), String::new()),
    };
    let mut fields = vec![
        ("o", origin.to_owned()),
        ("q", number.to_string()),
        ("t", t.into()),
        ("n", n),
        ("x", x),
    ];
    fields.extend(to.map(|to| ("r", to)));
    fields
}

fn reason_text(reason: &LeaveReason) -> String {
    match reason {
        LeaveReason::Left => "left".into(),
        LeaveReason::Quit(msg) => format!("quit:{msg}"),
        LeaveReason::TimedOut => "timeout".into(),
        LeaveReason::Kicked => "kicked".into(),
    }
}

fn reason_of(text: &str) -> LeaveReason {
    match text {
        "timeout" => LeaveReason::TimedOut,
        "kicked" => LeaveReason::Kicked,
        "left" => LeaveReason::Left,
        other => LeaveReason::Quit(other.strip_prefix("quit:").unwrap_or(other).into()),
    }
}

/// Decodes an entry's flat field list; `None` for anything malformed (another
/// program writing to the key must not crash an instance).
pub(super) fn decode(flat: &[String]) -> Option<Entry> {
    let get = |key: &str| -> Option<String> {
        flat.chunks_exact(2)
            .find(|kv| kv[0] == key)
            .map(|kv| kv[1].clone())
    };
    let origin = get("o")?;
    let number = get("q").and_then(|q| q.parse().ok()).unwrap_or(0);
    let t = get("t")?;
    let name: Arc<str> = get("n").unwrap_or_default().into();
    let text = get("x").unwrap_or_default();
    let named = !name.is_empty();
    let event = match t.as_str() {
        "j" if named => Shared::Joined { name },
        "s" if named => Shared::Said {
            name,
            text: text.into(),
        },
        "m" if named => Shared::Acted {
            name,
            text: text.into(),
        },
        "r" if named && !text.is_empty() => Shared::Renamed {
            old: name,
            new: text.into(),
        },
        "p" if named => Shared::Told {
            from: name,
            to: get("r").filter(|r| !r.is_empty())?.into(),
            text: text.into(),
        },
        "l" if named => Shared::Left {
            name,
            reason: reason_of(&text),
        },
        "a" => Shared::Admin { text: text.into() },
        "k" if named => Shared::Kick { name },
        _ => return None,
    };
    Some(Entry {
        origin,
        event,
        number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(event: Shared, number: u64) -> Option<Entry> {
        let flat: Vec<String> = fields("me", number, &event)
            .into_iter()
            .flat_map(|(k, v)| [k.to_owned(), v])
            .collect();
        decode(&flat)
    }

    #[test]
    fn events_survive_the_stream() {
        let events = [
            Shared::Joined { name: "a".into() },
            Shared::Said {
                name: "a".into(),
                text: "hi there".into(),
            },
            Shared::Left {
                name: "a".into(),
                reason: LeaveReason::Quit("bye: now".into()),
            },
            Shared::Left {
                name: "a".into(),
                reason: LeaveReason::TimedOut,
            },
            Shared::Admin { text: "x".into() },
            Shared::Kick { name: "a".into() },
            Shared::Acted {
                name: "a".into(),
                text: "waves".into(),
            },
            Shared::Renamed {
                old: "a".into(),
                new: "b".into(),
            },
            Shared::Told {
                from: "a".into(),
                to: "b".into(),
                text: "psst".into(),
            },
        ];
        for event in events {
            let entry = round(event.clone(), 7).expect("decodes");
            assert_eq!(entry.event, event);
            assert_eq!(entry.origin, "me");
            assert_eq!(entry.number, 7);
        }
    }

    #[test]
    fn malformed_entries_are_skipped() {
        assert_eq!(decode(&[]), None);
        assert_eq!(
            decode(&["o".into(), "x".into(), "t".into(), "s".into()]),
            None
        );
        assert_eq!(decode(&["o".into()]), None);
        assert_eq!(
            decode(&["t".into(), "q".into(), "o".into(), "i".into()]),
            None
        );
    }
}
