fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sm = vst_compiler::source::SourceMap::new();
    let id = sm.add(path.into(), text.clone());
    match vst_compiler::syntax::parse(&text, id) {
        Ok(f) => print!("{}", vst_compiler::syntax::format_file(&f)),
        Err(d) => print!("{}", d.render(&sm)),
    }
}
