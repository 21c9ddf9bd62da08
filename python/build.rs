//! The extension module finds libtorch in the installed `torch` package: the wheel puts it at
//! `site-packages/trustql/`, torch's libraries are at `site-packages/torch/lib`. `import trustql`
//! imports torch first (which loads them), and this RUNPATH finds them when it has not. Unlike
//! the CLI's binaries (build-support/torch_link.rs) a release build records no absolute path of
//! the build machine and does not force libtorch_cuda: it loads next to whatever torch 2.11.0
//! build (CUDA or CPU) the user installed.
//!
//! `cargo test --workspace --all-targets` also links and runs the library's (empty) unit-test
//! binary, which is not an extension module and has no `../torch/lib` beside it: debug builds
//! therefore also record the build's libtorch directory (`$LIBTORCH/lib`, which
//! .cargo/config.toml sets), as the CLI's do.

fn main() {
    println!("cargo:rustc-link-arg-cdylib=-Wl,-rpath,$ORIGIN/../torch/lib");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=PROFILE");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if let (false, Ok(libtorch)) = (release, std::env::var("LIBTORCH")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib");
    }
}
