package keyenv

import (
	"fmt"
	"os"
)

// ReadPassword returns a keyring password from exactly one source: the
// environment variable named env, or the file at path (one trailing
// newline is dropped). Passwords never come from command-line arguments,
// which other users can read in /proc.
func ReadPassword(env, path string, opts ...Option) (*Secret, error) {
	o := ApplyOptions(opts...)
	switch {
	case env != "" && path != "":
		return nil, fmt.Errorf("keyenv: %w: set either password-env or password-file, not both", ErrConfig)
	case env != "":
		v := o.Getenv(env)
		if v == "" {
			return nil, fmt.Errorf("keyenv: %w: environment variable %s is unset or empty", ErrNoPassword, env)
		}
		return SecretFrom([]byte(v))
	case path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keyenv: password file: %w: %w", ErrNoPassword, err)
		}
		n := len(data)
		if n > 0 && data[n-1] == '\n' {
			n--
			if n > 0 && data[n-1] == '\r' {
				n--
			}
		}
		if n == 0 {
			clear(data)
			return nil, fmt.Errorf("keyenv: %w: password file %s is empty", ErrNoPassword, path)
		}
		s, err := SecretFrom(data[:n])
		clear(data)
		return s, err
	}
	return nil, fmt.Errorf("keyenv: %w: set password-env or password-file", ErrNoPassword)
}
