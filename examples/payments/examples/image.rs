//! Builds the payments images offline (`payments::image`): the static
//! `payments` binary, then `squall-payments:latest` and
//! `squall-payments-mistaken:latest` (`FROM scratch`) on the Docker engine.
//! Then `squall run --backend docker examples/payments/scenarios/payments.toml`
//! runs the services as real containers.
//!
//! ```text
//! cargo run -p payments --example image
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    match payments::image::build() {
        Ok(binary) => {
            for tag in [payments::image::IMAGE, payments::image::MISTAKEN_IMAGE] {
                println!("{:>12}  {tag} from {}", "Built", binary.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}
