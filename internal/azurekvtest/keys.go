package azurekvtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
)

// keyOperation serves /keys/{name}[/{version}[/wrapkey|/unwrapkey]].
func (s *Server) keyOperation(w http.ResponseWriter, r *http.Request, path []string) {
	name, version, op := path[0], "", "GetKey"
	if len(path) == 2 && (path[1] == "wrapkey" || path[1] == "unwrapkey") {
		path = []string{name, "", path[1]} // no version: the current one
	}
	if len(path) >= 2 {
		version = path[1]
	}
	if len(path) == 3 {
		switch path[2] {
		case "wrapkey":
			op = "WrapKey"
		case "unwrapkey":
			op = "UnwrapKey"
		default:
			http.NotFound(w, r)
			return
		}
	}
	if len(path) > 3 || (op == "GetKey") != (r.Method == http.MethodGet) {
		http.NotFound(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	valid := auth != "" && s.tokens[strings.TrimPrefix(auth, "Bearer ")]
	s.mu.Unlock()
	if !valid {
		s.count("Challenge")
		s.challenge(w)
		return
	}
	s.count(op)
	if f, ok := s.takeFault(&s.fault); ok {
		if f.hang {
			s.hold(r)
			// Should the client still be there, it gets a gateway timeout.
			vaultError(w, http.StatusGatewayTimeout, "GatewayTimeout", "The operation timed out.", "")
			return
		}
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
			vaultError(w, f.status, "Throttled", "Request was not processed because too many requests were received.", "")
			return
		}
		vaultError(w, f.status, "ServiceUnavailable", http.StatusText(f.status), "")
		return
	}

	s.mu.Lock()
	k, ok := s.keys[name]
	var v *keyVersion
	var disabled, denied bool
	var kty KeyType
	if ok {
		disabled, denied, kty = k.disabled, k.denied, k.kty
		for _, kv := range k.versions {
			if kv.id == version {
				v = kv
			}
		}
		if version == "" {
			v = k.versions[len(k.versions)-1]
		}
	}
	s.mu.Unlock()
	switch {
	case !ok || v == nil:
		vaultError(w, http.StatusNotFound, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.", strings.Join(path[:min(2, len(path))], "/")), "")
		return
	case denied:
		perm := map[string]string{"GetKey": "get", "WrapKey": "wrapKey", "UnwrapKey": "unwrapKey"}[op]
		vaultError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("The user, group or application 'appid=%s' does not have keys %s permission on key vault. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", s.opts.ClientID, perm), "AccessDenied")
		return
	case disabled && (op == "UnwrapKey" || (op == "WrapKey" && kty == OctHSM)):
		// Key Vault refuses the operations that need the private or
		// secret key; reading a disabled key, and wrapping under a
		// disabled RSA key (a public-key operation), stay allowed.
		verb := map[string]string{"WrapKey": "wrapKey", "UnwrapKey": "unwrapKey"}[op]
		vaultError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("Operation %s is not allowed on a disabled key.", verb), "KeyDisabled")
		return
	}
	kid := fmt.Sprintf("%s/keys/%s/%s", s.URL, name, v.id)
	if op == "GetKey" {
		writeJSON(w, http.StatusOK, map[string]any{"key": jwk(kid, kty, v), "attributes": map[string]any{"enabled": !disabled}})
		return
	}
	var params struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &params) != nil {
		vaultError(w, http.StatusBadRequest, "BadParameter", "The request body is not valid JSON.", "")
		return
	}
	value, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(params.Value, "="))
	if err != nil {
		vaultError(w, http.StatusBadRequest, "BadParameter", "Property 'value' is not base64url.", "")
		return
	}
	if op == "WrapKey" {
		s.mu.Lock()
		s.seen = append(s.seen, append([]byte(nil), value...))
		s.mu.Unlock()
	}
	out, status, msg := crypt(op, params.Alg, v, value)
	if status != http.StatusOK {
		vaultError(w, status, "BadParameter", msg, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid, "value": base64.RawURLEncoding.EncodeToString(out)})
}

// crypt wraps or unwraps value with v under alg, or says why not.
func crypt(op, alg string, v *keyVersion, value []byte) ([]byte, int, string) {
	switch {
	case alg == "RSA-OAEP-256" && v.rsa != nil:
		if op == "WrapKey" {
			out, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &v.rsa.PublicKey, value, nil)
			if err != nil {
				return nil, http.StatusBadRequest, "The value is too long for the key."
			}
			return out, http.StatusOK, ""
		}
		out, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, v.rsa, value, nil)
		if err != nil {
			return nil, http.StatusBadRequest, "Unwrap failed: the value cannot be decrypted with this key."
		}
		return out, http.StatusOK, ""
	case alg == "A256KW" && v.oct != nil:
		if op == "WrapKey" {
			out, err := keyWrap(v.oct, value)
			if err != nil {
				return nil, http.StatusBadRequest, "The value must be a multiple of 8 bytes, at least 16."
			}
			return out, http.StatusOK, ""
		}
		out, err := keyUnwrap(v.oct, value)
		if err != nil {
			return nil, http.StatusBadRequest, "Unwrap failed: the value cannot be decrypted with this key."
		}
		return out, http.StatusOK, ""
	}
	return nil, http.StatusBadRequest, fmt.Sprintf("Algorithm %q is not supported by this key.", alg)
}

// jwk is the public part of a key version as Key Vault shows it.
func jwk(kid string, kty KeyType, v *keyVersion) map[string]any {
	m := map[string]any{"kid": kid, "kty": string(kty), "key_ops": []string{"wrapKey", "unwrapKey"}}
	if v.rsa != nil {
		m["n"] = base64.RawURLEncoding.EncodeToString(v.rsa.N.Bytes())
		m["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(v.rsa.E)).Bytes())
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
