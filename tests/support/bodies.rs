//! Key Vault and Entra ID answers as the services send them (from recordings of real vaults),
//! the `\r\n` escapes of the RBAC and Entra messages included.

pub const CHALLENGE: &str = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;

/// The 401 every new client gets first (no token yet).
pub const NO_TOKEN: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#;

/// A 200 for `db-password`; `{VALUE}`, `{VERSION}` and `{CT}` are filled in.
pub const SECRET_BUNDLE: &str = r#"{"value":"{VALUE}","contentType":"{CT}","id":"https://corp-vault.vault.azure.net/secrets/db-password/{VERSION}","attributes":{"enabled":true,"nbf":1704067200,"exp":1893456000,"created":1714003200,"updated":1714006800,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},"tags":{"owner":"payments"}}"#;

pub const NOT_FOUND: &str = r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db-password was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"}}"#;

pub const DISABLED: &str = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#;

/// As the service sends it: `\r\n` escapes, which break the SDK's borrowed-`&str` parse.
pub const FORBIDDEN_BY_RBAC: &str = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=1b730954-1685-4b74-9bfd-dac224a7b894;oid=5e2b9a4c-7d1f-4c3e-9b8a-0f6d2c1e3a47;iss=https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/3f2504e0-4f89-11d3-9a0c-0305e82c3301/resourcegroups/rg-payments/providers/microsoft.keyvault/vaults/corp-vault/secrets/db-password'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: corp-vault;location=westeurope\r\n","innererror":{"code":"ForbiddenByRbac"}}}"#;

pub const ACCESS_DENIED: &str = r#"{"error":{"code":"Forbidden","message":"The user, group or application 'appid=1b730954-1685-4b74-9bfd-dac224a7b894;oid=5e2b9a4c-7d1f-4c3e-9b8a-0f6d2c1e3a47;iss=https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/' does not have secrets get permission on key vault 'corp-vault;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287","innererror":{"code":"AccessDenied"}}}"#;

pub const FORBIDDEN_BY_FIREWALL: &str = r#"{"error":{"code":"Forbidden","message":"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7\r\nCaller: appid=1b730954-1685-4b74-9bfd-dac224a7b894;oid=5e2b9a4c-7d1f-4c3e-9b8a-0f6d2c1e3a47;iss=https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/\r\nVault: corp-vault;location=westeurope","innererror":{"code":"ForbiddenByFirewall"}}}"#;

pub const FORBIDDEN_UNKNOWN: &str = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed by policy.","innererror":{"code":"SomethingNew"}}}"#;

pub const FORBIDDEN_HTML: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n</body>\r\n</html>\r\n";

pub const INVALID_ISSUER: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/, found https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/."}}"#;

pub const INVALID_AUDIENCE: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."}}"#;

pub const TOKEN_EXPIRED: &str = r#"{"error":{"code":"Unauthorized","message":"[TokenExpired] Error validating token: 'S2S12086'."}}"#;

pub const THROTTLED: &str = r#"{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"}}"#;

pub const INTERNAL_ERROR: &str = r#"{"error":{"code":"InternalServerError","message":"The service encountered an internal error. Please try again."}}"#;

pub const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

pub const SERVICE_UNAVAILABLE: &str = r#"{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unavailable. Please retry later."}}"#;

/// What a host that is not a vault (a typo in the URL behind a web server) answers.
pub const NOT_FOUND_HTML: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\">\r\n<html><head><title>404 - File or directory not found.</title></head><body><h2>404 - File or directory not found.</h2></body></html>";

pub const BAD_PARAMETER: &str = r#"{"error":{"code":"BadParameter","message":"The specified version (2025-07-01) is not recognized. Consider using the latest supported version (7.5)."}}"#;

pub const CONFLICT: &str = r#"{"error":{"code":"Conflict","message":"Secret db-password is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.","innererror":{"code":"ObjectIsDeletedButRecoverable"}}}"#;

pub const TOKEN_OK: &str = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.CanaryAccessToken.sig"}"#;

/// Entra ID answers of the token endpoint, as sent (with their `\r\nTrace ID:` tails).
pub const AADSTS7000215: &str = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '1b730954-1685-4b74-9bfd-dac224a7b894'.\r\nTrace ID: 654ce9b2-a626-4e0b-8598-0cac69970200\r\nCorrelation ID: 5be327fc-93cb-4bef-ab4e-0373f11a8017\r\nTimestamp: 2025-05-12 09:03:41Z","error_codes":[7000215],"timestamp":"2025-05-12 09:03:41Z","trace_id":"654ce9b2-a626-4e0b-8598-0cac69970200","correlation_id":"5be327fc-93cb-4bef-ab4e-0373f11a8017","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"#;

pub const AADSTS7000222: &str = r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app '1b730954-1685-4b74-9bfd-dac224a7b894' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.\r\nTrace ID: 0b9a3c57-3e2f-4f0a-9c1d-8e7f6a5b4c00\r\nCorrelation ID: 9c6f2e1d-4b3a-4c5d-8e7f-1a2b3c4d5e6f\r\nTimestamp: 2025-05-12 09:04:10Z","error_codes":[7000222],"timestamp":"2025-05-12 09:04:10Z","trace_id":"0b9a3c57-3e2f-4f0a-9c1d-8e7f6a5b4c00","correlation_id":"9c6f2e1d-4b3a-4c5d-8e7f-1a2b3c4d5e6f","error_uri":"https://login.microsoftonline.com/error?code=7000222"}"#;

pub const AADSTS700016: &str = r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier '1b730954-1685-4b74-9bfd-dac224a7b894' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.\r\nTrace ID: 1f0e2d3c-4b5a-6978-8796-a5b4c3d2e100\r\nCorrelation ID: 2e1d0c9b-8a79-4685-9473-8261a5b4c3d2\r\nTimestamp: 2025-05-12 09:05:00Z","error_codes":[700016],"timestamp":"2025-05-12 09:05:00Z","trace_id":"1f0e2d3c-4b5a-6978-8796-a5b4c3d2e100","correlation_id":"2e1d0c9b-8a79-4685-9473-8261a5b4c3d2","error_uri":"https://login.microsoftonline.com/error?code=700016"}"#;

pub const AADSTS90002: &str = r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant '72f988bf-86f1-41af-91ab-2d7cd011db47' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.\r\nTrace ID: 3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c00\r\nCorrelation ID: 4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e\r\nTimestamp: 2025-05-12 09:06:00Z","error_codes":[90002],"timestamp":"2025-05-12 09:06:00Z","trace_id":"3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c00","correlation_id":"4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e","error_uri":"https://login.microsoftonline.com/error?code=90002"}"#;

pub const AADSTS90033: &str = r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e00\r\nCorrelation ID: 6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a\r\nTimestamp: 2025-05-12 09:07:00Z","error_codes":[90033],"timestamp":"2025-05-12 09:07:00Z","trace_id":"5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e00","correlation_id":"6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a"}"#;
