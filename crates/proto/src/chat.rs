//! The chat room and its fronts (UDP datagrams, IRC lines). Not yet built.
