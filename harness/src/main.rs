//! The `squall` command: parse the command line, hand over to [`cli`], exit
//! with the code the contract names (see `squall::exit`).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
