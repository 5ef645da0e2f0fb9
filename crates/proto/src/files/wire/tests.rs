//! Byte fixtures for the files wire format.

use super::*;

fn get(name: &str, offset: u64) -> Command {
    Command::Get {
        name: name.into(),
        offset,
    }
}

fn put(name: &str, size: u64) -> Command {
    Command::Put {
        name: name.into(),
        size,
    }
}

fn sum(name: &str, length: Option<u64>) -> Command {
    Command::Sum {
        name: name.into(),
        length,
    }
}

#[test]
fn commands_parse() {
    let table: &[(&[u8], Result<Command, CommandError>)] = &[
        (b"LIST", Ok(Command::List)),
        (b"LIST ", Ok(Command::List)),
        (
            b"LIST docs/old",
            Ok(Command::ListDir {
                folder: "docs/old".into(),
            }),
        ),
        (b"mkdir a b", Ok(Command::Mkdir { name: "a b".into() })),
        (b"DELETE x/y", Ok(Command::Delete { name: "x/y".into() })),
        (
            b"MOVE a b\tc d",
            Ok(Command::Move {
                from: "a b".into(),
                to: "c d".into(),
            }),
        ),
        (b"list", Ok(Command::List)),
        (b"QUIT", Ok(Command::Quit)),
        (b"GET a.txt", Ok(get("a.txt", 0))),
        (b"GET a.txt 10", Ok(get("a.txt", 10))),
        (b"GET my file.txt 0", Ok(get("my file.txt", 0))),
        (b"GET my file.txt", Ok(get("my file.txt", 0))),
        (b"GET 123", Ok(get("123", 0))),
        (b"GET d/e.txt 007", Ok(get("d/e.txt", 7))),
        (b"PUT a.bin 5", Ok(put("a.bin", 5))),
        (b"PUT a b c 0", Ok(put("a b c", 0))),
        (b"SUM a.txt", Ok(sum("a.txt", None))),
        (b"sum a.txt 1000", Ok(sum("a.txt", Some(1000)))),
        (b"SUM my file.txt 0", Ok(sum("my file.txt", Some(0)))),
        (b"SUM my file.txt", Ok(sum("my file.txt", None))),
        (b"SUM 123", Ok(sum("123", None))),
        (b"SUM", Err(CommandError::MissingName("SUM"))),
        (b"SUM ", Err(CommandError::MissingName("SUM"))),
        (
            b"SUM x 99999999999999999999999",
            Err(CommandError::BadNumber("SUM length is too large")),
        ),
        (b"", Err(CommandError::Empty)),
        (b"\xff\xfe", Err(CommandError::NotUtf8)),
        (b"RMDIR x", Err(CommandError::Unknown("RMDIR".into()))),
        (b"GET", Err(CommandError::MissingName("GET"))),
        (b"GET ", Err(CommandError::MissingName("GET"))),
        (b"PUT", Err(CommandError::MissingName("PUT"))),
        (
            b"PUT x",
            Err(CommandError::BadNumber("PUT needs a name and a size")),
        ),
        (b"PUT  5", Err(CommandError::MissingName("PUT"))),
        (
            b"PUT x -5",
            Err(CommandError::BadNumber("PUT size must be a decimal number")),
        ),
        (
            b"PUT x 99999999999999999999999",
            Err(CommandError::BadNumber("PUT size is too large")),
        ),
        (
            b"GET x 99999999999999999999999",
            Err(CommandError::BadNumber("GET offset is too large")),
        ),
        (b"MKDIR", Err(CommandError::MissingName("MKDIR"))),
        (b"DELETE ", Err(CommandError::MissingName("DELETE"))),
        (b"MOVE", Err(CommandError::MissingName("MOVE"))),
        (b"MOVE a b", Err(CommandError::MissingTarget)),
        (b"MOVE a\t", Err(CommandError::MissingTarget)),
        (b"MOVE \tb", Err(CommandError::MissingTarget)),
        (b"QUIT now", Err(CommandError::UnexpectedArgument("QUIT"))),
    ];
    for (line, want) in table {
        assert_eq!(
            &Command::parse(line),
            want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn lines_split_on_newline_and_drop_cr() {
    assert_eq!(split_line(b"LIST\nGET"), Line::Complete(b"LIST", 5));
    assert_eq!(split_line(b"LIST\r\n"), Line::Complete(b"LIST", 6));
    assert_eq!(split_line(b"LIS"), Line::Incomplete);
    assert_eq!(split_line(b""), Line::Incomplete);
    assert_eq!(split_line(&vec![b'a'; MAX_LINE]), Line::TooLong);
    let mut long_ok = vec![b'a'; MAX_LINE - 1];
    long_ok.push(b'\n');
    assert!(matches!(split_line(&long_ok), Line::Complete(_, n) if n == MAX_LINE));
}

#[test]
fn emitted_commands_parse_back() {
    for cmd in [
        Command::List,
        Command::Quit,
        get("a", 0),
        get("a", 9),
        get("with space", 0),
        get("12", 0),
        put("x y", 3),
        Command::ListDir {
            folder: "a b/c".into(),
        },
        Command::Mkdir {
            name: "new dir".into(),
        },
        Command::Delete { name: "x".into() },
        Command::Move {
            from: "a b".into(),
            to: "c/d e".into(),
        },
    ] {
        let mut out = Vec::new();
        cmd.emit(&mut out);
        let Line::Complete(line, used) = split_line(&out) else {
            panic!("incomplete {out:?}")
        };
        assert_eq!(used, out.len());
        assert_eq!(Command::parse(line), Ok(cmd));
    }
}

#[test]
fn replies_emit_and_parse() {
    let mut out = Vec::new();
    emit_ok(&mut out, 3);
    emit_err(&mut out, ErrCode::NotFound, "no such file\nOK forged");
    emit_entry(
        &mut out,
        &ListEntry {
            size: 5,
            mtime: 1700000000,
            name: "a b".into(),
        },
    );
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "a message never adds a line: {text:?}");
    assert_eq!(Reply::parse(lines[0]), Some(Reply::Ok("3".into())));
    assert_eq!(
        Reply::parse(lines[1]),
        Some(Reply::Err {
            code: 404,
            message: "no such file?OK forged".into()
        })
    );
    assert_eq!(
        ListEntry::parse(lines[2]),
        Some(ListEntry {
            size: 5,
            mtime: 1700000000,
            name: "a b".into()
        })
    );
    assert_eq!(Reply::parse("READY"), Some(Reply::Ready));
    assert_eq!(Reply::parse("BYE\r"), Some(Reply::Bye));
    assert_eq!(Reply::parse("HELLO"), None);
    assert_eq!(ListEntry::parse("x 1 a"), None);
}

#[test]
fn every_code_round_trips() {
    for code in ErrCode::ALL {
        assert_eq!(ErrCode::from_code(code.code()), Some(code));
    }
    assert_eq!(ErrCode::from_code(200), None);
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_without_panicking(input in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        if let Line::Complete(line, used) = split_line(&input) {
            proptest::prop_assert!(used <= input.len());
            let _ = Command::parse(line);
        }
        let _ = Command::parse(&input);
        let _ = Reply::parse(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn any_name_and_number_round_trip(name in "[^\\x00-\\x1f\\x7f]{1,40}", n in proptest::num::u64::ANY) {
        proptest::prop_assume!(!name.starts_with(' ') || name.trim() != "");
        for cmd in [
            Command::Get { name: name.clone(), offset: n },
            Command::Put { name: name.clone(), size: n },
            Command::Sum { name: name.clone(), length: Some(n) },
        ] {
            let mut out = Vec::new();
            cmd.emit(&mut out);
            let Line::Complete(line, _) = split_line(&out) else {
                return Err(proptest::test_runner::TestCaseError::fail("incomplete"));
            };
            proptest::prop_assert_eq!(Command::parse(line), Ok(cmd));
        }
    }
}
