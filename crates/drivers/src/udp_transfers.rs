//! A UDP loop for services that open a fresh socket per transfer (TFTP). Not yet built.
