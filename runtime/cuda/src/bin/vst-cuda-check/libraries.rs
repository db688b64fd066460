//! `libraries`: which CUDA libraries this process really loads, and their versions. cudarc tries several names
//! for each library (unversioned first), so a toolkit's copy can win over the one the environment meant; the GPU
//! check prints this first so that every later number is read against the right set.

use vst_cuda::{CudaBackend, CudaOptions};

/// The libraries the backend opens, by the name their files share before `.so` (`libcublas.so.13` and a toolkit's
/// `libcublas.so` are two copies of cuBLAS; `libcublasLt.so.13` and cuDNN's `libcudnn_ops.so.9` are other
/// libraries).
const LIBRARIES: [(&str, &str); 4] = [
    ("driver", "libcuda"),
    ("cuBLAS", "libcublas"),
    ("cuDNN", "libcudnn"),
    ("NVRTC", "libnvrtc"),
];

/// The distinct files of this process's memory map that are copies of library `stem`.
fn mapped(maps: &str, stem: &str) -> Vec<String> {
    let mut paths: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| {
            std::path::Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.split(".so").next() == Some(stem) && n.contains(".so"))
        })
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// cuBLAS's version as the library reports it, when it is loadable.
fn cublas_version() -> Option<String> {
    use cudarc::cublas::sys;
    // SAFETY: the presence check only tries to dlopen; the property calls write one int each.
    unsafe {
        if !sys::is_culib_present() {
            return None;
        }
        let mut parts = [0i32; 3];
        for (part, kind) in parts.iter_mut().zip([
            sys::libraryPropertyType::MAJOR_VERSION,
            sys::libraryPropertyType::MINOR_VERSION,
            sys::libraryPropertyType::PATCH_LEVEL,
        ]) {
            if sys::cublasGetProperty(kind, part) != sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS {
                return None;
            }
        }
        Some(format!("{}.{}.{}", parts[0], parts[1], parts[2]))
    }
}

/// NVRTC's version as the library reports it, when it is loadable.
fn nvrtc_version() -> Option<String> {
    use cudarc::nvrtc::sys;
    // SAFETY: as above.
    unsafe {
        if !sys::is_culib_present() {
            return None;
        }
        let (mut major, mut minor) = (0, 0);
        (sys::nvrtcVersion(&mut major, &mut minor) == sys::nvrtcResult::NVRTC_SUCCESS)
            .then(|| format!("{major}.{minor}"))
    }
}

pub fn run(ordinal: usize) -> Result<(), String> {
    // Opening the backend loads the driver, cuBLAS, cuDNN and NVRTC (the kernels are compiled at open).
    let opened = CudaBackend::with_options(ordinal, CudaOptions::default());
    match &opened {
        Ok(gpu) => {
            let info = gpu.info();
            println!(
                "GPU {} (sm_{}{}), driver CUDA {}.{}, cuDNN {}",
                info.name,
                info.compute_capability.0,
                info.compute_capability.1,
                info.driver_cuda_version / 1000,
                (info.driver_cuda_version % 1000) / 10,
                info.cudnn_version
            );
        }
        Err(e) => println!("the CUDA backend did not open: {e}"),
    }
    if let Some(v) = cublas_version() {
        println!("cuBLAS {v}");
    }
    if let Some(v) = nvrtc_version() {
        println!("NVRTC {v}");
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut inconsistent = false;
    for (name, stem) in LIBRARIES {
        let paths = mapped(&maps, stem);
        match paths.as_slice() {
            [] => println!("{name:<7} not loaded"),
            [one] => println!("{name:<7} {one}"),
            many => {
                inconsistent = true;
                println!("{name:<7} SEVERAL COPIES: {}", many.join(", "));
            }
        }
    }
    let dirs: Vec<String> = LIBRARIES[1..]
        .iter()
        .flat_map(|(_, stem)| mapped(&maps, stem))
        .filter_map(|p| {
            std::path::Path::new(&p)
                .parent()
                .map(|d| d.display().to_string())
        })
        .collect();
    let mut distinct = dirs.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > 1 {
        println!(
            "note: cuBLAS, cuDNN and NVRTC come from {} folders: {}",
            distinct.len(),
            distinct.join(", ")
        );
    }
    match (opened, inconsistent) {
        (Err(e), _) => Err(e.to_string()),
        (Ok(_), true) => Err("a library is loaded from more than one file".into()),
        (Ok(_), false) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::mapped;

    #[test]
    fn finds_each_library_file_once() {
        let maps = "\
7f00-7f01 r--p 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libcuda.so.580.1
7f01-7f02 r-xp 00001000 08:01 1 /usr/lib/x86_64-linux-gnu/libcuda.so.580.1
7f02-7f03 r--p 00000000 08:01 2 /opt/py/nvidia/cu13/lib/libcublas.so.13
7f03-7f04 r--p 00000000 08:01 3 /opt/py/nvidia/cu13/lib/libcublasLt.so.13
7f04-7f05 rw-p 00000000 00:00 0
7f05-7f06 r--p 00000000 08:01 4 /usr/local/cuda/lib64/libcublas.so
";
        assert_eq!(
            mapped(maps, "libcuda"),
            ["/usr/lib/x86_64-linux-gnu/libcuda.so.580.1"]
        );
        // Two copies of cuBLAS (the wheel's and a toolkit's); cuBLASLt is another library.
        assert_eq!(
            mapped(maps, "libcublas"),
            [
                "/opt/py/nvidia/cu13/lib/libcublas.so.13",
                "/usr/local/cuda/lib64/libcublas.so"
            ]
        );
        assert!(mapped(maps, "libnvrtc").is_empty());
    }
}
