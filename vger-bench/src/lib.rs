//! What `vger-bench` shares with the other programs that drive a real
//! server process (`vger-stress`): starting, stopping and killing the
//! server binary, reading its CPU, memory and descriptors from `/proc`, and
//! making the packs a client would upload.

pub mod data;
pub mod procfs;
pub mod server;
