//! HTTP/1.1 static-file service (`netkit http serve`). Not yet built.
