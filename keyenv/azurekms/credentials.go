package azurekms

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/atrest/atrest/keyenv"
)

// newCredential makes the credential the settings name, in TiKV's order:
// an inline certificate, a certificate file, a client secret; else
// DefaultAzureCredential. Errors name the setting and never show a secret,
// a certificate or its password.
func newCredential(c Config) (azcore.TokenCredential, error) {
	a := c.Azure
	explicit := a.ClientCertificate != "" || a.ClientCertificatePath != "" || a.ClientSecret != ""
	if explicit && (a.TenantID == "" || a.ClientID == "") {
		return nil, fmt.Errorf("keyenv: %w: azure client-certificate, client-certificate-path and client-secret need tenant-id and client-id", keyenv.ErrConfig)
	}
	switch {
	case a.ClientCertificate != "":
		data := []byte(a.ClientCertificate)
		if !strings.Contains(a.ClientCertificate, "-----BEGIN") {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(a.ClientCertificate), ""))
			if err != nil {
				return nil, fmt.Errorf("keyenv: %w: azure client-certificate is neither PEM nor base64 PKCS#12", keyenv.ErrConfig)
			}
			data = der
		}
		return certificateCredential(c, data, "client-certificate")
	case a.ClientCertificatePath != "":
		data, err := os.ReadFile(a.ClientCertificatePath)
		if err != nil {
			why := "cannot be read"
			switch {
			case errors.Is(err, fs.ErrNotExist):
				why = "does not exist"
			case errors.Is(err, fs.ErrPermission):
				why = "may not be read by this user"
			}
			return nil, fmt.Errorf("keyenv: %w: azure client-certificate-path %s %s: %w", keyenv.ErrConfig, a.ClientCertificatePath, why, err)
		}
		return certificateCredential(c, data, "client-certificate-path "+a.ClientCertificatePath)
	case a.ClientSecret != "":
		cred, err := azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions:            c.ClientOptions,
			DisableInstanceDiscovery: c.DisableInstanceDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("keyenv: %w: azure client-secret credential for tenant %s: %w", keyenv.ErrConfig, a.TenantID, err)
		}
		return cred, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            c.ClientOptions,
		TenantID:                 a.TenantID,
		DisableInstanceDiscovery: c.DisableInstanceDiscovery,
	})
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w: azure default credential: %w", keyenv.ErrConfig, err)
	}
	return cred, nil
}

// certificateCredential makes a client certificate credential of a PEM
// certificate with its key, or a PKCS#12 file (encrypted with the
// configured password or not).
func certificateCredential(c Config, data []byte, what string) (azcore.TokenCredential, error) {
	defer clear(data)
	certs, key, err := azidentity.ParseCertificates(data, []byte(c.Azure.ClientCertificatePassword))
	if err != nil {
		// The parser's message says which format failed, never the data.
		hint := ""
		if c.Azure.ClientCertificatePassword != "" {
			hint = ", or the client-certificate-password is wrong"
		}
		return nil, fmt.Errorf("keyenv: %w: azure %s: not a certificate with its private key in PEM or PKCS#12%s", keyenv.ErrConfig, what, hint)
	}
	cred, err := azidentity.NewClientCertificateCredential(c.Azure.TenantID, c.Azure.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            c.ClientOptions,
		DisableInstanceDiscovery: c.DisableInstanceDiscovery,
	})
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w: azure %s: %w", keyenv.ErrConfig, what, err)
	}
	return cred, nil
}
