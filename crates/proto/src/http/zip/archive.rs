//! The map of an archive: where every record of every entry starts, the
//! central directory, the end records and the total length, all from the
//! plan. The archive is a sequence of [`Piece`]s; [`Archive::piece_at`]
//! finds the one holding a byte (a `Range` start), [`Archive::after`] the
//! next, and [`Archive::write`] produces a piece's bytes (all but file data).

use super::layout::{self, Directory, Item};

/// An archive's layout: entries in order, with their local header offsets.
#[derive(Debug)]
pub(crate) struct Archive {
    pub(crate) items: Vec<Item>,
    offsets: Vec<u64>,
    pub(crate) dir: Directory,
    /// The archive's exact length in bytes.
    pub(crate) len: u64,
}

/// What a piece of the archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Local(usize),
    Data(usize),
    Descriptor(usize),
    /// A central directory header, with the offset of the entry's local header.
    Central(usize, u64),
    End,
}

/// One piece of the archive and where it lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) part: Part,
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl Piece {
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len
    }
}

impl Archive {
    /// Lays out `items` in order.
    pub(crate) fn new(items: Vec<Item>) -> Archive {
        let mut offsets = Vec::with_capacity(items.len());
        let mut at = 0u64;
        for item in &items {
            offsets.push(at);
            at += layout::local_len(item) + item.size + layout::descriptor_len(item);
        }
        let cd_offset = at;
        for (item, &offset) in items.iter().zip(&offsets) {
            at += layout::central_len(item, offset);
        }
        let dir = Directory {
            count: items.len() as u64,
            offset: cd_offset,
            size: at - cd_offset,
        };
        let len = at + layout::end_len(&dir);
        Archive {
            items,
            offsets,
            dir,
            len,
        }
    }

    /// Where entry `i`'s data starts.
    pub(crate) fn data_start(&self, i: usize) -> u64 {
        self.offsets[i] + layout::local_len(&self.items[i])
    }

    /// Where entry `i`'s data descriptor ends (its last byte + 1).
    pub(crate) fn descriptor_end(&self, i: usize) -> u64 {
        let item = &self.items[i];
        self.data_start(i) + item.size + layout::descriptor_len(item)
    }

    /// The piece holding byte `pos` (`pos` < `len`).
    pub(crate) fn piece_at(&self, pos: u64) -> Piece {
        if pos < self.dir.offset {
            // The last entry whose local header starts at or before `pos`.
            let i = self
                .offsets
                .partition_point(|&o| o <= pos)
                .saturating_sub(1);
            let mut piece = self.local(i);
            while piece.end() <= pos {
                piece = self.after(&piece);
            }
            return piece;
        }
        let mut piece = self.first_central();
        while piece.end() <= pos && piece.part != Part::End {
            piece = self.after(&piece);
        }
        piece
    }

    fn local(&self, i: usize) -> Piece {
        Piece {
            part: Part::Local(i),
            start: self.offsets[i],
            len: layout::local_len(&self.items[i]),
        }
    }

    fn first_central(&self) -> Piece {
        match self.items.first() {
            Some(item) => Piece {
                part: Part::Central(0, 0),
                start: self.dir.offset,
                len: layout::central_len(item, 0),
            },
            None => self.end_piece(),
        }
    }

    fn end_piece(&self) -> Piece {
        Piece {
            part: Part::End,
            start: self.dir.offset + self.dir.size,
            len: layout::end_len(&self.dir),
        }
    }

    /// The piece after `piece` (the end records are the last; after them, the
    /// end records again, which callers never ask for).
    pub(crate) fn after(&self, piece: &Piece) -> Piece {
        let start = piece.end();
        let next = |part, len| Piece { part, start, len };
        match piece.part {
            Part::Local(i) if !self.items[i].is_dir() => next(Part::Data(i), self.items[i].size),
            Part::Data(i) => next(Part::Descriptor(i), layout::descriptor_len(&self.items[i])),
            Part::Local(i) | Part::Descriptor(i) => match self.items.get(i + 1) {
                Some(_) => self.local(i + 1),
                None => self.first_central(),
            },
            Part::Central(i, _) => match self.items.get(i + 1) {
                Some(item) => {
                    let offset = self.offsets[i + 1];
                    next(
                        Part::Central(i + 1, offset),
                        layout::central_len(item, offset),
                    )
                }
                None => self.end_piece(),
            },
            Part::End => self.end_piece(),
        }
    }

    /// Writes the bytes of a piece that is not file data; `crc` is entry's
    /// CRC where the piece needs it.
    pub(crate) fn write(&self, part: Part, crc: u32, out: &mut Vec<u8>) {
        match part {
            Part::Local(i) => layout::write_local(&self.items[i], out),
            Part::Descriptor(i) => layout::write_descriptor(&self.items[i], crc, out),
            Part::Central(i, offset) => layout::write_central(&self.items[i], crc, offset, out),
            Part::End => layout::write_end(&self.dir, out),
            Part::Data(_) => {}
        }
    }
}
