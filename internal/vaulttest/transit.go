package vaulttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// transit serves the Transit engine's paths (rest is the path below the
// mount).
func (s *Server) transit(w http.ResponseWriter, r *http.Request, rest string, body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tokenKeys, valid := s.tokenKeys(r)
	parts := strings.Split(rest, "/")
	var name string
	switch {
	case len(parts) == 2 && (parts[0] == "keys" || parts[0] == "encrypt" || parts[0] == "decrypt"):
		name = parts[1]
	case len(parts) == 3 && parts[0] == "keys" && (parts[2] == "config" || parts[2] == "rotate"):
		name = parts[1]
	case len(parts) == 3 && parts[0] == "datakey" && (parts[1] == "plaintext" || parts[1] == "wrapped"):
		name = parts[2]
	default:
		if !valid {
			writeErrors(w, http.StatusForbidden, "permission denied")
			return
		}
		writeErrors(w, http.StatusNotFound, "no handler for route \""+s.opts.Mount+"/"+rest+"\". route entry not found.")
		return
	}
	if !valid || (tokenKeys != nil && !tokenKeys[name]) {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	k := s.keys[name]
	switch parts[0] {
	case "keys":
		s.keyAdmin(w, r, parts, name, k, body)
	case "datakey":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain := randomKey()
		ct, err := k.encrypt(plain, body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		data := map[string]any{"ciphertext": ct, "key_version": len(k.versions)}
		if parts[1] == "plaintext" {
			data["plaintext"] = base64.StdEncoding.EncodeToString(plain)
		}
		writeData(w, data)
	case "encrypt":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain, err := decodeField(body, "plaintext")
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		ct, err := k.encrypt(plain, body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		writeData(w, map[string]any{"ciphertext": ct, "key_version": len(k.versions)})
	case "decrypt":
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain, err := k.decrypt(body)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, err.Error())
			return
		}
		writeData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)})
	}
}

// keyAdmin serves keys/<name> (create, delete), keys/<name>/config and
// keys/<name>/rotate; s.mu is held.
func (s *Server) keyAdmin(w http.ResponseWriter, r *http.Request, parts []string, name string, k *transitKey, body map[string]any) {
	switch {
	case len(parts) == 2 && r.Method == http.MethodDelete:
		if k == nil {
			writeErrors(w, http.StatusBadRequest, "could not delete key; not found")
			return
		}
		if !k.deletionAllowed {
			writeErrors(w, http.StatusBadRequest, "deletion is not allowed for this key")
			return
		}
		delete(s.keys, name)
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 2:
		if k == nil {
			derived, _ := body["derived"].(bool)
			s.keys[name] = &transitKey{derived: derived, versions: [][]byte{randomKey()}, minDecryption: 1}
		}
		w.WriteHeader(http.StatusNoContent)
	case k == nil:
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
	case parts[2] == "rotate":
		k.versions = append(k.versions, randomKey())
		w.WriteHeader(http.StatusNoContent)
	default: // config
		if v, ok := body["min_decryption_version"]; ok {
			n, _ := v.(float64)
			if int(n) < 1 || int(n) > len(k.versions) {
				writeErrors(w, http.StatusBadRequest, "cannot set min decryption version greater than the latest version")
				return
			}
			k.minDecryption = int(n)
		}
		if v, ok := body["deletion_allowed"].(bool); ok {
			k.deletionAllowed = v
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// aead returns the GCM of key version v, derived with the request's
// context for derived keys (non-derived keys ignore a context, as Vault's
// do).
func (k *transitKey) aead(v int, body map[string]any) (cipher.AEAD, error) {
	key := k.versions[v-1]
	if k.derived {
		ctx, err := decodeField(body, "context")
		if err != nil || len(ctx) == 0 {
			return nil, errString("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")
		}
		if key, err = hkdf.Key(sha256.New, key, nil, string(ctx), 32); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *transitKey) encrypt(plain []byte, body map[string]any) (string, error) {
	v := len(k.versions)
	g, err := k.aead(v, body)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return "vault:v" + strconv.Itoa(v) + ":" + base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, plain, nil)), nil
}

func (k *transitKey) decrypt(body map[string]any) ([]byte, error) {
	ct, _ := body["ciphertext"].(string)
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return nil, errString("invalid ciphertext: no prefix")
	}
	vs, b64, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil {
		return nil, errString("invalid ciphertext: version number could not be decoded")
	}
	if v > len(k.versions) || v < 1 {
		return nil, errString("invalid key version")
	}
	if v < k.minDecryption {
		return nil, errString("ciphertext or signature version is disallowed by policy (too old)")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errString("invalid ciphertext: could not decode base64")
	}
	g, err := k.aead(v, body)
	if err != nil {
		return nil, err
	}
	if len(raw) < g.NonceSize() {
		return nil, errString("invalid ciphertext length")
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return nil, errString("cipher: message authentication failed")
	}
	return plain, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func decodeField(body map[string]any, field string) ([]byte, error) {
	v, _ := body[field].(string)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, errString("failed to base64-decode " + field)
	}
	return b, nil
}
