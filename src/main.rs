fn main() -> std::process::ExitCode {
    stackgen::run()
}
