//! `libraries`: which CUDA libraries this process really loads, and their versions. cudarc tries several names
//! for each library (unversioned first), so a toolkit's copy can win over the one the environment meant; the GPU
//! check prints this first so that every later number is read against the right set.

use vst_cuda::{CudaBackend, CudaOptions};

/// The libraries the backend opens, by the file-name prefix their copies share.
const LIBRARIES: [(&str, &str); 4] = [
    ("driver", "libcuda.so"),
    ("cuBLAS", "libcublas"),
    ("cuDNN", "libcudnn"),
    ("NVRTC", "libnvrtc"),
];

/// The distinct files of this process's memory map whose name starts with `prefix`.
fn mapped(maps: &str, prefix: &str) -> Vec<String> {
    let mut paths: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| {
            std::path::Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    paths
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
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut inconsistent = false;
    for (name, prefix) in LIBRARIES {
        let paths = mapped(&maps, prefix);
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
        .flat_map(|(_, prefix)| mapped(&maps, prefix))
        .filter(|p| !p.contains("libcudnn_")) // cuDNN's sub-libraries sit beside libcudnn.so
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
            mapped(maps, "libcuda.so"),
            ["/usr/lib/x86_64-linux-gnu/libcuda.so.580.1"]
        );
        assert_eq!(
            mapped(maps, "libcublas"),
            [
                "/opt/py/nvidia/cu13/lib/libcublas.so.13",
                "/opt/py/nvidia/cu13/lib/libcublasLt.so.13",
                "/usr/local/cuda/lib64/libcublas.so"
            ]
        );
        assert!(mapped(maps, "libnvrtc").is_empty());
    }
}
