//! What a Databricks workspace does differently (databricks-rest.md §5, §6, §7): as a
//! destination, an experiment is named by an absolute workspace path whose folder must exist,
//! some tags may not be set, and objects have access control lists; on both sides, runs'
//! notebooks live in the workspace tree.

use bytes::Bytes;
use mlflow_client::MlflowClient;
use serde_json::Value;

use crate::{
    model::{Notebook, NotebookFormat},
    select::PrincipalMap,
    store::{tracking::no_permissions, PermissionsOutcome},
    Error, Result,
};

/// The permissions API's object types of experiments and of workspace registry models
/// (databricks-rest.md §7.1).
pub const EXPERIMENT_PERMISSIONS: &str = "experiments";
pub const MODEL_PERMISSIONS: &str = "registered-models";

/// The keys that name a principal in an access control entry, one per entry.
const PRINCIPAL_KEYS: [&str; 3] = ["user_name", "group_name", "service_principal_name"];

/// Tags a workspace does not let a client set, on runs and experiments alike: the owner comes
/// from the caller's identity, `log_model` history and root links are the workspace's own, and
/// the notebook tags tie an experiment to a notebook of the source workspace (the Python tool's
/// `_DATABRICKS_SKIP_TAGS`).
const REFUSED_TAGS: [&str; 5] = [
    "mlflow.user",
    "mlflow.log-model.history",
    "mlflow.rootRunId",
    "mlflow.experiment.sourceType",
    "mlflow.experiment.sourceId",
];

/// The tags `client`'s server refuses.
pub fn refused_tags(client: &MlflowClient) -> &'static [&'static str] {
    if client.is_databricks() {
        &REFUSED_TAGS
    } else {
        &[]
    }
}

/// Before experiment `name` is created at `client`'s server: in a workspace, `name` must be an
/// absolute path, and its folder is created (`mkdir -p`) so that the create does not fail for
/// a missing parent.
pub async fn prepare_experiment_path(client: &MlflowClient, name: &str) -> Result<()> {
    if !client.is_databricks() {
        return Ok(());
    }
    if !name.starts_with('/') || name.ends_with('/') {
        return Err(Error::Input(format!(
            "experiment {name:?}: a Databricks experiment is named by its workspace path, such as \
             /Users/<user>/{}",
            name.trim_matches('/')
        )));
    }
    mkdirs_parent(client, name).await
}

/// Creates the folder holding workspace object `path` (`mkdir -p`; nothing for one at `/`).
async fn mkdirs_parent(client: &MlflowClient, path: &str) -> Result<()> {
    match path.rsplit_once('/') {
        Some((folder, _)) if !folder.is_empty() => Ok(client.workspace_mkdirs(folder).await?),
        _ => Ok(()),
    }
}

/// The notebook at `path` in each of `formats` (databricks-rest.md §5.1 `get-status`, then one
/// `export` per format), or `None` when the workspace holds no notebook there.
pub async fn export_notebook(
    client: &MlflowClient,
    path: &str,
    formats: &[NotebookFormat],
) -> Result<Option<Notebook>> {
    if !client.is_databricks() {
        return Err(Error::Unsupported(format!("notebook {path}: the source is not a Databricks workspace")));
    }
    let object = match client.workspace_get_status(path).await {
        Ok(o) if o.object_type.as_deref() == Some("NOTEBOOK") => o,
        Ok(_) => return Ok(None),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut exports = Vec::new();
    for format in formats {
        exports.push((*format, Bytes::from(client.workspace_export(path, format.api_name()).await?)));
    }
    Ok(Some(Notebook { language: object.language, exports }))
}

/// Writes a notebook's SOURCE export as the notebook at `path` (databricks-rest.md §5.1
/// `mkdirs` for its folder, then `import` with `overwrite`, so that a repeat changes nothing).
pub async fn import_notebook(client: &MlflowClient, path: &str, language: &str, source: &[u8]) -> Result<()> {
    if !client.is_databricks() {
        return Err(Error::Unsupported(format!("notebook {path}: the destination is not a Databricks workspace")));
    }
    mkdirs_parent(client, path).await?;
    Ok(client.workspace_import(path, "SOURCE", language, source, true).await?)
}

/// Sets the direct grants of the exported Unity Catalog grants `permissions` (the Python
/// tool's `{permissions: {privilege_assignments}, effective_permissions}`) on model
/// `full_name`, one `PATCH` per principal so that a principal the metastore lacks fails alone.
/// The effective list's inherited privileges (from the catalog and schema) are left out, as
/// inherited grants are of a workspace list; the Python tool sets those too. Safe to repeat:
/// `add` merges.
pub async fn set_uc_grants(
    client: &MlflowClient,
    full_name: &str,
    permissions: &Value,
    principals: &PrincipalMap,
) -> Result<PermissionsOutcome> {
    let Some(assignments) = permissions.pointer("/permissions/privilege_assignments") else {
        return Err(Error::Input(format!(
            "model {full_name}: its exported permissions are a workspace registry's access control list, \
             which a Unity Catalog model does not take (its grants are privileges); leave out the permissions \
             option to copy the model without them"
        )));
    };
    let mut outcome = PermissionsOutcome::default();
    for assignment in assignments.as_array().into_iter().flatten() {
        let Some(principal) = assignment.get("principal").and_then(Value::as_str) else {
            return Err(Error::Input(format!("permissions: an assignment names no principal: {assignment}")));
        };
        let privileges: Vec<String> = assignment
            .get("privileges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        if privileges.is_empty() {
            continue;
        }
        let Some(to) = principals.apply(principal) else {
            outcome.dropped.push(principal.to_string());
            continue;
        };
        let grant = format!("{to}: {}", privileges.join(", "));
        outcome.record(grant, client.uc_grant_model(full_name, to, &privileges).await)?;
    }
    Ok(outcome)
}

/// Sets the direct grants of the exported list `permissions` (the Python tool's
/// `{permission_levels, permissions: {access_control_list}}`, or the list object alone) on
/// object `id` of `object_type`, one `PATCH` per grant so that a principal the workspace lacks
/// fails alone. Inherited grants come from the source's folders and are left out: set
/// directly, they would outlive a change of the folder's. Safe to repeat: `PATCH` merges.
pub async fn set_permissions(
    client: &MlflowClient,
    object_type: &str,
    id: &str,
    permissions: &Value,
    principals: &PrincipalMap,
) -> Result<PermissionsOutcome> {
    if !client.is_databricks() {
        return Err(no_permissions(client.base_url()));
    }
    if permissions.pointer("/permissions/privilege_assignments").is_some() {
        return Err(Error::Input(format!(
            "{object_type} {id}: its exported permissions are Unity Catalog grants, which a workspace object \
             does not take (its permissions are access control lists); leave out the permissions option to \
             copy it without them"
        )));
    }
    let mut outcome = PermissionsOutcome::default();
    for (key, principal, level) in direct_grants(permissions)? {
        let Some(to) = principals.apply(&principal) else {
            outcome.dropped.push(principal);
            continue;
        };
        let entry = serde_json::json!({ key: to, "permission_level": level });
        let grant = format!("{to}: {level}");
        outcome.record(grant, client.patch_permission(object_type, id, &entry).await)?;
    }
    Ok(outcome)
}

/// `(principal key, principal, level)` of every grant of an exported list that is not
/// inherited.
fn direct_grants(permissions: &Value) -> Result<Vec<(&'static str, String, String)>> {
    let list = permissions.get("permissions").unwrap_or(permissions);
    let entries = match list.get("access_control_list") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(Error::Input("permissions: `access_control_list` is not a list".into())),
    };
    let mut grants = Vec::new();
    for entry in entries {
        let found = PRINCIPAL_KEYS.iter().find_map(|k| Some((*k, entry.get(*k)?.as_str()?.to_string())));
        let Some((key, principal)) = found else {
            return Err(Error::Input(format!("permissions: an entry names no principal: {entry}")));
        };
        for grant in entry.get("all_permissions").and_then(Value::as_array).into_iter().flatten() {
            if grant.get("inherited").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(level) = grant.get("permission_level").and_then(Value::as_str) else {
                return Err(Error::Input(format!("permissions: a grant of {principal} has no level: {grant}")));
            };
            grants.push((key, principal.clone(), level.to_string()));
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_grants_leave_out_inherited_ones_and_refuse_nameless_entries() {
        let exported = serde_json::json!({
            "permission_levels": [{"permission_level": "CAN_READ"}],
            "permissions": {"object_id": "/experiments/7", "access_control_list": [
                {"user_name": "ann@a.com", "all_permissions": [
                    {"permission_level": "CAN_EDIT", "inherited": false},
                    {"permission_level": "CAN_MANAGE", "inherited": true, "inherited_from_object": ["/directories/1"]}]},
                {"group_name": "admins", "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": true}]},
                {"service_principal_name": "0000-sp", "all_permissions": [{"permission_level": "CAN_READ"}]}]}
        });
        let grants = direct_grants(&exported).unwrap();
        assert_eq!(
            grants,
            [
                ("user_name", "ann@a.com".to_string(), "CAN_EDIT".to_string()),
                ("service_principal_name", "0000-sp".to_string(), "CAN_READ".to_string())
            ]
        );
        // The list object alone reads the same.
        assert_eq!(direct_grants(&exported["permissions"]).unwrap(), grants);
        let nameless = serde_json::json!({"access_control_list": [{"all_permissions": []}]});
        assert!(direct_grants(&nameless).unwrap_err().to_string().contains("names no principal"));
    }
}
