//! The extension module finds libtorch in the installed `torch` package: the wheel puts it at
//! `site-packages/trustql/`, torch's libraries are at `site-packages/torch/lib`. `import trustql`
//! imports torch first (which loads them), and this RUNPATH finds them when it has not. Unlike
//! the CLI's binaries (build-support/torch_link.rs) the module records no absolute path of the
//! build machine and does not force libtorch_cuda: it loads next to whatever torch 2.11.0 build
//! (CUDA or CPU) the user installed.

fn main() {
    println!("cargo:rustc-link-arg-cdylib=-Wl,-rpath,$ORIGIN/../torch/lib");
}
