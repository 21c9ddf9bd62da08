// Shared by the build scripts of `trustql` and `trustql-udfs` (included with `include!`).
//
// Why: tch's build links libtorch but (1) records no run-time search path, so the binaries would
// need LD_LIBRARY_PATH, and (2) links `libtorch_cuda` only "as needed", so the CUDA backend is
// never loaded and `tch::Cuda::is_available()` is false even on a GPU machine. We record the
// torch library directory as RUNPATH (an LD_LIBRARY_PATH set by the user still takes precedence,
// which is how the binary is pointed at another machine's torch) and force-link `torch_cuda`.

/// Emits the link arguments for every binary, test, example and benchmark of the package.
fn link_torch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its library directory; no rpath recorded");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib}");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
