package keyenv

// AWSSettings is the [master-key.aws] sub-table of a kms master key
// (TiKV's SubConfigAws). Both empty means the SDK's default credential
// chain.
type AWSSettings struct {
	AccessKey       string // access-key
	SecretAccessKey string // secret-access-key
}

// AzureSettings is the [master-key.azure] sub-table of a kms master key
// with vendor "azure" (TiKV's SubConfigAzure). The key is key-id in the
// vault at KeyVaultURL, or in the Managed HSM HSMName or HSMURL.
type AzureSettings struct {
	TenantID                  string // tenant-id
	ClientID                  string // client-id
	KeyVaultURL               string // keyvault-url
	HSMName                   string // hsm-name
	HSMURL                    string // hsm-url
	ClientCertificate         string // client-certificate: PEM or base64 PKCS#12, inline
	ClientCertificatePath     string // client-certificate-path
	ClientCertificatePassword string // client-certificate-password
	ClientSecret              string // client-secret
}

// GCPSettings is the [master-key.gcp] sub-table of a kms master key with
// vendor "gcp" (TiKV's SubConfigGcp). An empty CredentialFilePath means
// Application Default Credentials.
type GCPSettings struct {
	CredentialFilePath string // credential-file-path
}

// VaultSettings are the keys of a master key of type "vault": a
// HashiCorp Vault or OpenBao Transit key (atrest's own type).
type VaultSettings struct {
	Address       string // address: https://vault.example:8200
	Mount         string // mount: the Transit engine's mount path (default "transit")
	KeyName       string // key-name: the Transit key
	TokenFile     string // token-file: a file holding the token
	TokenEnv      string // token-env: a variable holding the token
	RoleID        string // role-id: AppRole login (with secret-id-file)
	SecretIDFile  string // secret-id-file: the AppRole secret id
	AppRoleMount  string // approle-mount: the AppRole auth mount (default "approle")
	Namespace     string // namespace (Vault Enterprise, OpenBao)
	CAFile        string // ca-file: PEM CA bundle for the server's certificate
	TLSServerName string // tls-server-name (optional)
}

// KMIPSettings are the keys of a master key of type "kmip": a symmetric
// key in a KMIP key manager (atrest's own type).
type KMIPSettings struct {
	Endpoints  []string // endpoints: host:port, tried in order
	KeyID      string   // key-id: the key's unique identifier
	ClientCert string   // client-certificate: PEM file
	ClientKey  string   // client-key: PEM file
	CAFile     string   // ca-file: PEM CA bundle for the server's certificate
	ServerName string   // server-name (optional): the name the certificate must carry
}
