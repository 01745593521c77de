//! bulwark: a user-space application kernel for Linux.

fn main() {
    eprintln!("bulwark: not yet");
    std::process::exit(2);
}
