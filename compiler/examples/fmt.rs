fn main() {
    let path = std::env::args().nth(1).unwrap();
    let c = vst_compiler::compile(
        std::path::Path::new(&path),
        &vst_compiler::Options::system(),
    )
    .unwrap();
    print!("{}", c.render_diagnostics(false));
    if let Some(p) = &c.plan {
        for j in &p.jobs {
            println!("{} {} {:?} deps={}", j.id, j.name, j.cost, j.deps.len());
        }
    }
}
