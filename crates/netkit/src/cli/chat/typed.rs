//! What a person types into `netkit chat join`: a line to say, or a command
//! as IRC users type them (`/me`, `/nick`, `/msg`, `/who`, `/help`, `/quit`).
//! A text over the room's 1,000 bytes goes as several messages, cut at
//! character boundaries, so it arrives whole.

use netkit_proto::chat::wire::{valid_name, Request, MAX_TEXT_BYTES};

/// The commands, one line each (`/help`).
pub(super) const HELP: &[&str] = &[
    "/me TEXT          an action: others see \"* you TEXT\"",
    "/nick NAME        take a new name",
    "/msg NAME TEXT    a private message to NAME alone",
    "/who              list the members",
    "/help             this list",
    "/quit             leave (end of input leaves too)",
    "//TEXT            say a line that starts with /",
];

/// One typed line, understood.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Typed<'a> {
    /// Datagrams to send, in order.
    Send(Vec<Request<'a>>),
    /// Print the commands.
    Help,
    /// Leave.
    Quit,
    /// Nothing to send; tell the person why.
    Problem(String),
}

/// Understands one typed line (its line end already gone).
pub(super) fn parse(line: &str) -> Typed<'_> {
    if line.trim().is_empty() {
        return Typed::Send(Vec::new());
    }
    if line.starts_with("//") {
        return Typed::Send(pieces(&line[1..], Request::Say));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Typed::Send(pieces(line, Request::Say));
    };
    let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
    match word {
        "quit" | "exit" => Typed::Quit,
        "help" | "?" => Typed::Help,
        "who" | "names" => Typed::Send(vec![Request::Who]),
        "me" if !rest.trim().is_empty() => Typed::Send(pieces(rest, Request::Me)),
        "me" => Typed::Problem("usage: /me TEXT".into()),
        "nick" => match rest.trim() {
            "" => Typed::Problem("usage: /nick NAME".into()),
            name if !valid_name(name) => Typed::Problem(format!(
                "{name:?} is not a valid name (1-32 characters, no spaces)"
            )),
            name => Typed::Send(vec![Request::Nick(name)]),
        },
        "msg" | "tell" | "query" => {
            let rest = rest.trim_start();
            match rest.split_once(' ') {
                Some((name, text)) if !text.trim().is_empty() => {
                    Typed::Send(pieces(text, |t| Request::Tell(name, t)))
                }
                _ => Typed::Problem("usage: /msg NAME TEXT".into()),
            }
        }
        _ => Typed::Problem(format!("unknown command /{word} (try /help)")),
    }
}

/// `text` as one request per piece of at most [`MAX_TEXT_BYTES`] bytes.
fn pieces<'a>(text: &'a str, make: impl Fn(&'a str) -> Request<'a>) -> Vec<Request<'a>> {
    split(text, MAX_TEXT_BYTES).into_iter().map(make).collect()
}

/// Cuts `text` into pieces of at most `max` bytes (`max` ≥ 4), never inside
/// a character; the pieces joined are `text`.
pub(super) fn split(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        out.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_become_requests() {
        assert_eq!(parse("hi"), Typed::Send(vec![Request::Say("hi")]));
        assert_eq!(parse("/me waves"), Typed::Send(vec![Request::Me("waves")]));
        assert_eq!(parse("/nick bob"), Typed::Send(vec![Request::Nick("bob")]));
        assert_eq!(
            parse("/msg bob hi there"),
            Typed::Send(vec![Request::Tell("bob", "hi there")])
        );
        assert_eq!(parse("/who"), Typed::Send(vec![Request::Who]));
        assert_eq!(
            parse("//etc/passwd"),
            Typed::Send(vec![Request::Say("/etc/passwd")])
        );
        assert_eq!(parse("/quit"), Typed::Quit);
        assert_eq!(parse("/help"), Typed::Help);
        assert_eq!(parse("   "), Typed::Send(vec![]));
        for bad in [
            "/msg bob",
            "/msg",
            "/nick",
            "/nick two words",
            "/me",
            "/dance",
        ] {
            assert!(matches!(parse(bad), Typed::Problem(_)), "{bad}");
        }
    }

    #[test]
    fn long_lines_split_at_character_boundaries() {
        let line = "é".repeat(1250); // 2,500 bytes
        let Typed::Send(sent) = parse(&line) else {
            panic!("sent")
        };
        let texts: Vec<&str> = sent
            .iter()
            .map(|r| match r {
                Request::Say(t) => *t,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts.len(), 3);
        assert!(texts.iter().all(|t| t.len() <= MAX_TEXT_BYTES));
        assert_eq!(texts.concat(), line);
        assert_eq!(split("a€b", 4), ["a€", "b"]);
        assert_eq!(split("€€", 4), ["€", "€"]);
        assert!(split("", 4).is_empty());
    }
}
