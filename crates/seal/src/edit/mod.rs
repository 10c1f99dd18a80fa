//! The pieces of `seal edit`: the private file the plaintext lives in while the editor
//! has it, running the editor, and the buffer's text.

pub mod buffer;
pub mod editor;
pub mod private_file;
pub mod who;
