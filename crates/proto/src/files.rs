//! The files protocol (`netkit files serve`): LIST, GET, PUT, QUIT over TCP with
//! byte-counted payloads. Not yet built.
