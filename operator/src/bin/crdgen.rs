//! Prints the VaultCluster CRD as YAML: `cargo run -p coffer-operator --bin coffer-crdgen >
//! crds/vaultcluster.yaml` (the chart's copy is `charts/coffer/crds/vaultcluster.yaml`).

fn main() -> std::process::ExitCode {
    match coffer_operator::crd::crd_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coffer-crdgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
