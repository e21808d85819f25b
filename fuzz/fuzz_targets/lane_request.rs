#![no_main]
//! Arbitrary bytes as a request head: whenever `serve`'s HTTP/1 lane takes the head, hyper's
//! server reads the same bodyless request, ending at the same byte
//! (`serve/lane/against_hyper.rs`). The lane's files are compiled here by path, in the same
//! module tree as in the binary.

use libfuzzer_sys::fuzz_target;

// The binary's `serve` directory: the modules below are its files.
#[path = "../../src/bin/corsgate/serve"]
#[allow(dead_code)] // the target uses only the reading half of these files
mod serve {
    pub mod host_and_path;
    /// `limits`' head-size limit (the binary's `limits` has the flags too, which need clap).
    pub mod limits {
        pub const MAX_HEAD_BYTES: usize = 64 * 1024;
    }
    pub mod lane {
        pub mod against_hyper;
        pub mod request;
        pub mod wire;
    }
}

fuzz_target!(|data: &[u8]| {
    serve::lane::against_hyper::check(data);
});
