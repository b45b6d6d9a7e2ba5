package gcpkms

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"google.golang.org/api/option"

	"github.com/atrest/atrest/keyenv"
)

// credentialTypes are the JSON credentials files credential-file-path may
// name, by their "type" field.
var credentialTypes = map[string]option.CredentialsType{
	"service_account":              option.ServiceAccount,
	"authorized_user":              option.AuthorizedUser,
	"external_account":             option.ExternalAccount,
	"impersonated_service_account": option.ImpersonatedServiceAccount,
}

// credentialsOption reads a JSON credentials file and returns the client
// option that authenticates with it. Errors name the file and what is
// wrong with it, never its content (it holds a private key or a refresh
// token).
func credentialsOption(path string) (option.ClientOption, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		why := "cannot be read"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = "does not exist"
		case errors.Is(err, fs.ErrPermission):
			why = "may not be read by this user"
		}
		// The *PathError names the path and the system's reason only.
		return nil, fmt.Errorf("keyenv: %w: gcp credential-file-path %s %s: %w", keyenv.ErrConfig, path, why, err)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		// The decoder's message may quote the file; say only where.
		where := ""
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			where = fmt.Sprintf(" (syntax error at byte %d)", syn.Offset)
		}
		clear(data)
		return nil, fmt.Errorf("keyenv: %w: gcp credential-file-path %s is not a JSON credentials file%s", keyenv.ErrConfig, path, where)
	}
	t, ok := credentialTypes[head.Type]
	if !ok {
		clear(data)
		// The type is not shown: a malformed file may have anything there.
		return nil, fmt.Errorf("keyenv: %w: gcp credential-file-path %s: its \"type\" is not supported (want service_account, authorized_user, external_account or impersonated_service_account)",
			keyenv.ErrConfig, path)
	}
	return option.WithAuthCredentialsJSON(t, data), nil
}

// redacted shows only the first sentence of a credentials library's
// error, which goes on with details of the key it failed to parse; errors.Is
// and errors.As still see the whole error.
type redacted struct{ err error }

func (r redacted) Error() string {
	msg := r.err.Error()
	if i := firstOf(msg, ". ", " [", "\n"); i >= 0 {
		msg = msg[:i]
	}
	const max = 120
	if len(msg) > max {
		msg = msg[:max] + "..."
	}
	return msg
}

func (r redacted) Unwrap() error { return r.err }

// firstOf is the index of the first of seps in s, or -1.
func firstOf(s string, seps ...string) int {
	first := -1
	for _, sep := range seps {
		if i := strings.Index(s, sep); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}
