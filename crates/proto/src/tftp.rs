//! TFTP (RFC 1350 and option extensions) as sans-IO transfer state machines.
//! Not yet built.
