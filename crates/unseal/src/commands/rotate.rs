//! `unseal rotate`: a new active sealing key now. Old keys stay and keep opening what was
//! sealed to them.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::cli::ClusterArgs;
use crate::keys::secrets::{self, Created};

/// Creates the next key.
pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let client = super::client(&args).await?;
    let api: Api<Secret> = Api::namespaced(client, &args.controller_namespace);
    match secrets::create_next(&api, &args.controller_namespace).await? {
        Created::Made(name) => println!("created sealing key {name}; it is active now"),
        Created::PeerWon(name) => {
            println!("sealing key {name} was just created by the controller; it is active now")
        }
    }
    Ok(())
}
